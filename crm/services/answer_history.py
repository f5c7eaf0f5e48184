"""The CRM's call history as :class:`predictive.models.history.CallHistoryRow` values (an adapter).

One row per finished call attempt of a lead (``calls`` with a lead and an outcome), with what was
known of the lead *before* that attempt: its local hour and weekday (in the lead's own zone: its
override, else the number's, else the campaign's, else the CRM's), attempts so far, hours since
the previous attempt and that attempt's outcome, the number's type and region, the list (the
campaign: a campaign's leads are its list) and the lead's age. The list's recent contact rate is
computed by ``predictive.models.features`` while replaying the rows in time order.

Prospective rows (the attempt about to be made, for scoring) are built from the same fields of a
lead's current state, so training and scoring see the same features.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.db.models import Call, PhoneNumber
from crm.db.models_ops import Campaign, Lead
from crm.domain.phones import zones_for_number
from predictive.models.history import NUMBER_TYPES, CallHistoryRow

# the dialer's outcomes (crm.domain.enums.AttemptOutcome values) -> the model's
OUTCOME_MAP = {
    "answered": "live",
    "abandoned": "live",  # a human answered; no agent was free
    "machine": "machine",
    "busy": "busy",
    "no_answer": "no_answer",
    "failed": "failed",
    "invalid_number": "failed",
}


def model_outcome(outcome: str | None) -> str | None:
    """The model's outcome for a dialer outcome; None for unknown or missing ones."""
    return OUTCOME_MAP.get(outcome or "")


@lru_cache(maxsize=262144)
def region_of(e164: str) -> str:
    """The number's region code (``CN``, ``US``...), ``??`` when phonenumbers cannot tell."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "??"
    except phonenumbers.NumberParseException:
        return "??"


def lead_zone(lead_tz: str | None, e164: str, campaign_tz: str | None, default_tz: str) -> str:
    """The zone a lead's local hour is read in (the same order as the hopper's window check)."""
    if lead_tz:
        return lead_tz
    zones = zones_for_number(e164)
    return zones[0] if zones else (campaign_tz or default_tz)


def number_type_of(raw: str | None) -> str:
    return raw if raw in NUMBER_TYPES else "unknown"


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What the model needs of a lead, whatever the lead's current state."""

    lead_id: str
    list_id: str
    zone: str
    number_type: str
    region: str
    created_at: datetime


def prospective_row(facts: LeadFacts, at: datetime, attempts: int,
                    last_attempt_at: datetime | None, last_outcome: str | None,
                    outcome: str = "no_answer") -> CallHistoryRow:
    """The row of an attempt at ``at`` (``outcome`` is ignored when scoring)."""
    at = _aware(at)
    local = at.astimezone(ZoneInfo(facts.zone))
    since = None
    if last_attempt_at is not None:
        since = max(0.0, (at - _aware(last_attempt_at)).total_seconds() / 3600)
    return CallHistoryRow(
        lead_id=facts.lead_id, list_id=facts.list_id, attempted_at=local,
        local_hour=local.hour, local_weekday=local.weekday(), attempt_no=attempts,
        hours_since_last=since, last_outcome=model_outcome(last_outcome) if since is not None
        else None, number_type=facts.number_type, region=facts.region,
        lead_age_days=max(0.0, (at - _aware(facts.created_at)).total_seconds() / 86400),
        outcome=outcome,
    )


def _history_stmt() -> sa.Select[*tuple[Any, ...]]:
    return (
        sa.select(
            col(Call.lead_id), col(Lead.campaign_id), col(Call.originated_at), col(Call.outcome),
            col(Call.talk_seconds), col(Call.disposition), col(Lead.created_at),
            col(Lead.timezone), col(Lead.phone_e164), col(Campaign.timezone),
            col(PhoneNumber.number_type),
        )
        .join(Lead, col(Lead.id) == col(Call.lead_id))
        .join(Campaign, col(Campaign.id) == col(Lead.campaign_id))
        .outerjoin(PhoneNumber, col(PhoneNumber.e164) == col(Lead.phone_e164))
        .where(col(Call.outcome).is_not(None), col(Call.originated_at).is_not(None))
        .order_by(col(Call.lead_id), col(Call.originated_at), col(Call.call_id))
    )


async def load_history(session: AsyncSession, default_tz: str,
                       since: datetime | None = None) -> list[CallHistoryRow]:
    """Every finished attempt of every lead, oldest first (attempt numbers count from the
    lead's first call even when ``since`` cuts the window). One query, read in chunks (the
    event loop runs between them: a dialer in the same process is never held for the whole
    read); the rows are built in a worker thread."""
    raw: list[Any] = []
    result = await session.stream(_history_stmt().execution_options(yield_per=_CHUNK))
    async for chunk in result.partitions(_CHUNK):
        raw.extend(chunk)
        await asyncio.sleep(0)
    return await asyncio.to_thread(_build_rows, raw, default_tz, since)


_CHUNK = 500


def _build_rows(raw: Sequence[Any], default_tz: str, since: datetime | None
                ) -> list[CallHistoryRow]:
    rows: list[CallHistoryRow] = []
    prev_lead: uuid.UUID | None = None
    facts: LeadFacts | None = None
    attempts, last_at, last_outcome = 0, None, None
    for (lead_id, list_id, at, outcome, talk, dispo, created, lead_tz, e164, camp_tz,
         ntype) in raw:
        if lead_id != prev_lead or facts is None:
            prev_lead, attempts, last_at, last_outcome = lead_id, 0, None, None
            facts = LeadFacts(str(lead_id), str(list_id),
                              lead_zone(lead_tz, e164, camp_tz, default_tz),
                              number_type_of(ntype), region_of(e164), created)
        mapped = model_outcome(outcome)
        if mapped is None:
            continue
        if since is None or _aware(at) >= _aware(since):
            row = prospective_row(facts, at, attempts, last_at, last_outcome, mapped)
            if talk or dispo:
                row = replace(row, talk_s=float(talk or 0.0), disposition=dispo)
            rows.append(row)
        attempts, last_at, last_outcome = attempts + 1, at, outcome
    rows.sort(key=lambda r: r.attempted_at)
    return rows


async def number_types(session: AsyncSession, numbers: Sequence[str]) -> dict[str, str]:
    """``e164 -> number type`` for these numbers (one query per 500)."""
    out: dict[str, str] = {}
    unique = sorted(set(numbers))
    for i in range(0, len(unique), 500):
        chunk = unique[i:i + 500]
        found = await session.execute(
            sa.select(col(PhoneNumber.e164), col(PhoneNumber.number_type))
            .where(col(PhoneNumber.e164).in_(chunk)))
        out.update({e: number_type_of(t) for e, t in found.all()})
    return out
