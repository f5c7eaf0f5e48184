"""A synthetic CRM history for the conversion model, written to the CRM's own tables.

Each customer has a latent propensity. Before the label window (the last 30 days) they
were called 1-6 times: connects, talk time, dispositions (sales among them) and intent
scores follow the propensity; tags ``vip`` (+) and ``churn_risk`` (-) move it too. In the
label window they are called once or twice, and buy (disposition ``sale``) with a
probability that rises with the propensity: a model that reads the CRM right can learn it.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from crm.db.models import Call, Customer, CustomerTag, PhoneNumber, Tag
from crm.db.models_ops import Lead
from crm.service import CrmService


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@dataclass
class Synth:
    campaign_id: uuid.UUID
    p_true: dict[uuid.UUID, float]  # customer -> P(sale in the label window)
    customers: list[uuid.UUID]


async def write_history(crm: CrmService, now: datetime, n: int = 1500, seed: int = 5) -> Synth:
    rng = random.Random(seed)
    campaign = await crm.campaigns.create({"name": f"conv-{seed}"})
    tags = ("vip", "churn_risk", "newsletter")
    customers: list[dict[str, Any]] = []
    phones: list[dict[str, Any]] = []
    leads: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    p_true: dict[uuid.UUID, float] = {}
    for i in range(n):
        cid = uuid.UUID(int=rng.getrandbits(128))
        latent = rng.gauss(0, 1)
        e164 = f"+86139{i:08d}"
        created = now - timedelta(days=150)
        customers.append({"id": cid, "name": f"客户{i}", "name_key": f"客户{i}",
                          "created_at": created, "updated_at": created})
        phones.append({"id": uuid.uuid4(), "customer_id": cid, "e164": e164,
                       "number_type": "mobile", "created_at": created})
        lead_id = uuid.uuid4()
        leads.append({"id": lead_id, "campaign_id": campaign.id, "customer_id": cid,
                      "phone_e164": e164, "created_at": created, "updated_at": created,
                      "outcome_counts": {}})
        mine = {t for t, p in (("vip", 0.08), ("churn_risk", 0.2), ("newsletter", 0.25))
                if rng.random() < p}
        links += [{"customer_id": cid, "tag_id": t} for t in mine]  # name, id below
        for _ in range(rng.randint(1, 6)):  # before the label window
            at = now - timedelta(days=rng.uniform(31, 120))
            calls.append(_call(rng, cid, campaign.id, lead_id, at, latent,
                               sale_z=-2.5 + 1.1 * latent))
        z = -1.8 + 1.3 * latent + 0.9 * ("vip" in mine) - 0.8 * ("churn_risk" in mine)
        p_true[cid] = _sigmoid(z)
        bought = rng.random() < p_true[cid]
        for k in range(rng.randint(1, 2)):  # inside the label window
            at = now - timedelta(days=rng.uniform(1, 29))
            calls.append(_call(rng, cid, campaign.id, lead_id, at, latent,
                               forced="sale" if bought and k == 0 else "not_interested"))
    async with crm.engine.begin() as conn:
        await conn.execute(sa.insert(Tag), [{"name": k, "name_key": k} for k in tags])
        ids: dict[str, Any] = dict(
            (await conn.execute(sa.select(col(Tag.name_key), col(Tag.id)))).all())
        for link in links:  # the ids the database gave (its sequence stays right)
            link["tag_id"] = ids[link["tag_id"]]
        for table, rows in ((Customer, customers), (PhoneNumber, phones), (Lead, leads),
                            (CustomerTag, links), (Call, calls)):
            if rows:
                await conn.execute(sa.insert(table), rows)
    return Synth(campaign.id, p_true, [c["id"] for c in customers])


def _call(rng: random.Random, cid: uuid.UUID, campaign_id: uuid.UUID, lead_id: uuid.UUID,
          at: datetime, latent: float, *, sale_z: float = -9.0, forced: str | None = None
          ) -> dict[str, object]:
    connected = forced is not None or rng.random() < 0.45
    talk = rng.lognormvariate(4.3 + 0.4 * latent, 0.5) if connected else None
    disposition = forced
    if connected and disposition is None:
        if rng.random() < _sigmoid(sale_z):
            disposition = "sale"
        else:
            disposition = "callback" if rng.random() < _sigmoid(latent) else "not_interested"
    intent = None
    if connected and rng.random() < 0.6:
        intent = min(1.0, max(0.0, 0.5 + 0.2 * latent + rng.gauss(0, 0.1)))
    return {
        "call_id": f"call-{uuid.uuid4()}", "customer_id": cid, "campaign_id": campaign_id,
        "lead_id": lead_id, "state": "ended", "number_dialed": None, "originated_at": at,
        "answered_at": at + timedelta(seconds=8) if connected else None,
        "bridged_at": at + timedelta(seconds=9) if connected else None,
        "ended_at": at + timedelta(seconds=9 + (talk or 0) + 20),
        "outcome": "answered" if connected else "no_answer", "talk_seconds": talk,
        "disposition": disposition, "intent_score": intent, "event_count": 3,
        "updated_at": at,
    }
