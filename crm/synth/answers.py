"""A synthetic CRM call history for the answer model (rows written to the CRM's own tables).

Leads are Chinese mobiles (Asia/Shanghai) and New York numbers (America/New_York). A call's
chance of a live answer depends on the hour *in the lead's own zone*: high at 19-20 h, low at
10-11 h, middling otherwise; so a model that reads the local hour right can learn it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crm.db.models import Call, Customer, PhoneNumber
from crm.db.models_ops import Lead
from crm.service import CrmService

CN, US = "Asia/Shanghai", "America/New_York"
HISTORY_START = datetime(2026, 9, 1, tzinfo=UTC)
# After the default history (``HISTORY_START`` + 20 days); a Friday.
AFTER_HISTORY = datetime(2026, 9, 25, 0, 0, tzinfo=UTC)


def p_live(local_hour: int) -> float:
    if local_hour in (19, 20):
        return 0.6
    if local_hour in (10, 11):
        return 0.06
    return 0.25


def cn_number(i: int) -> str:
    return f"+86139{i:08d}"


def us_number(i: int) -> str:
    return f"+1212555{i:04d}"


@dataclass
class Rows:
    customers: list[dict]
    phones: list[dict]
    leads: list[dict]
    calls: list[dict]


def add_lead(rows: Rows, campaign_id: uuid.UUID, e164: str, ntype: str, created: datetime,
          **extra: object) -> uuid.UUID:
    """Add a customer, its phone and a lead on ``campaign_id`` to ``rows``; the lead's id."""
    cid, lid = uuid.uuid4(), uuid.uuid4()
    rows.customers.append({"id": cid, "name": e164, "name_key": e164, "created_at": created,
                           "updated_at": created})
    rows.phones.append({"id": uuid.uuid4(), "customer_id": cid, "e164": e164,
                        "number_type": ntype, "created_at": created})
    rows.leads.append({"id": lid, "campaign_id": campaign_id, "customer_id": cid,
                       "phone_e164": e164, "created_at": created, "updated_at": created,
                       "outcome_counts": {}, **extra})
    return lid


def synth_rows(campaign_id: uuid.UUID, n_leads: int, attempts: int, seed: int = 7,
               first_index: int = 0, start: datetime = HISTORY_START, days: int = 20) -> Rows:
    rng = random.Random(seed)
    rows = Rows([], [], [], [])
    for i in range(first_index, first_index + n_leads):
        us = i % 3 == 0
        zone = ZoneInfo(US if us else CN)
        e164 = us_number(i) if us else cn_number(i)
        lid = add_lead(rows, campaign_id, e164, "unknown" if us else "mobile",
                    start - timedelta(days=2), status="done", attempts=attempts)
        slots = sorted(
            (start.astimezone(zone) + timedelta(days=rng.randrange(days))).replace(
                hour=rng.randrange(9, 21), minute=rng.randrange(60), second=0, microsecond=0)
            for _ in range(attempts))
        for n, local in enumerate(slots):
            hour, at = local.hour, local.astimezone(UTC)
            if rng.random() < p_live(hour):
                outcome = "answered"
            else:
                outcome = rng.choice(("no_answer", "no_answer", "busy", "machine"))
            rows.calls.append({
                "call_id": f"synth-{i}-{n}", "lead_id": lid, "campaign_id": campaign_id,
                "customer_id": rows.customers[-1]["id"], "state": "ended",
                "originated_at": at, "ended_at": at + timedelta(seconds=30),
                "outcome": outcome, "event_count": 1, "updated_at": at,
                "talk_seconds": 60.0 if outcome == "answered" else None,
            })
    return rows


async def write(service: CrmService, rows: Rows) -> None:
    async with service.engine.begin() as conn:
        for table, data in ((Customer, rows.customers), (PhoneNumber, rows.phones),
                            (Lead, rows.leads), (Call, rows.calls)):
            if data:
                await conn.execute(sa.insert(table), data)


async def seed_history(service: CrmService, campaign_id: uuid.UUID, n_leads: int = 640,
                       attempts: int = 4, **kw: object) -> int:
    rows = synth_rows(campaign_id, n_leads, attempts, **kw)  # type: ignore[arg-type]
    await write(service, rows)
    return len(rows.calls)
