"""A campaign's list: penetration (dialed / contacted / remaining by reason) and recycling.

Remaining leads are sorted into exactly one reason, first match wins: ``dnc`` (status or the DNC
list), ``attempts_exhausted`` (status or the campaign's attempt limit), ``nurture`` (the
customer's conversion route is automated nurturing: never dialed by agents),
``scheduled_later`` (next attempt in the future), ``outside_window`` (the lead's local time is
outside the calling window now), ``in_progress`` (locked by a dialer), else ``eligible``. The
first four are one grouped SQL query; the window needs each lead's own zone, so only the due
leads are read, two columns at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.leads import in_nurture, window_of
from crm.db.models import Call
from crm.db.models_ops import Campaign, Lead
from crm.domain.enums import AttemptOutcome, LeadStatus
from crm.domain.phones import zones_for_number
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services.common import audit, transaction
from crm.services.dnc import dnc_clause

REASONS = ("dnc", "attempts_exhausted", "nurture", "scheduled_later", "outside_window",
           "in_progress", "eligible")
RECYCLABLE = tuple(o.value for o in AttemptOutcome if o is not AttemptOutcome.ANSWERED)


class ListService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 default_timezone: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._tz = default_timezone

    async def penetration(self, campaign_id: uuid.UUID) -> dict[str, Any]:
        now = self._clock.now()
        async with self._sessions() as s:
            campaign = await s.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFoundError("campaign", campaign_id)
            totals = await self._totals(s, campaign_id)
            reasons = {r: 0 for r in REASONS}
            reason = sa.case(
                (sa.or_(col(Lead.status) == LeadStatus.DNC.value,
                        dnc_clause(col(Lead.phone_e164), col(Lead.campaign_id))), "dnc"),
                (sa.or_(col(Lead.status) == LeadStatus.EXHAUSTED.value,
                        col(Lead.attempts) >= campaign.max_attempts), "attempts_exhausted"),
                (in_nurture(col(Lead.customer_id)), "nurture"),
                (col(Lead.next_attempt_at) > now, "scheduled_later"),
                else_="due",
            )
            base = sa.select(reason.label("r"), sa.func.count()).where(
                col(Lead.campaign_id) == campaign_id, col(Lead.status) != LeadStatus.DONE.value)
            for r, count in (await s.execute(base.group_by(reason))).all():
                if r != "due":
                    reasons[str(r)] = int(count)
            await self._due(s, campaign, reason, now, reasons)
        remaining = sum(reasons.values())
        return {"campaign_id": str(campaign_id), **totals, "remaining": remaining,
                "remaining_by_reason": reasons,
                "penetration": round(totals["dialed"] / totals["total"], 4)
                if totals["total"] else None}

    async def _totals(self, s: AsyncSession, campaign_id: uuid.UUID) -> dict[str, int]:
        total, dialed, done = (await s.execute(
            sa.select(sa.func.count(),
                      sa.func.sum(sa.case((col(Lead.attempts) > 0, 1), else_=0)),
                      sa.func.sum(sa.case((col(Lead.status) == LeadStatus.DONE.value, 1),
                                          else_=0)))
            .where(col(Lead.campaign_id) == campaign_id))).one()
        contacted = await s.scalar(
            sa.select(sa.func.count(sa.distinct(col(Call.lead_id)))).where(
                col(Call.campaign_id) == campaign_id, col(Call.lead_id).is_not(None),
                col(Call.bridged_at).is_not(None)))
        return {"total": int(total or 0), "dialed": int(dialed or 0),
                "contacted": int(contacted or 0), "done": int(done or 0)}

    async def _due(self, s: AsyncSession, campaign: Campaign, reason: Any, now: datetime,
                   reasons: dict[str, int]) -> None:
        window = window_of(campaign)
        stmt = sa.select(col(Lead.phone_e164), col(Lead.timezone), col(Lead.locked_until)).where(
            col(Lead.campaign_id) == campaign.id, col(Lead.status) != LeadStatus.DONE.value,
            reason == "due")
        fallback = campaign.timezone or self._tz
        async for phone, zone, locked in await s.stream(stmt.execution_options(yield_per=1000)):
            zones = (zone,) if zone else (zones_for_number(phone) or (fallback,))
            if not all(window.allows(now, z) for z in zones):
                reasons["outside_window"] += 1
            elif locked is not None and _aware(locked) > now:
                reasons["in_progress"] += 1
            else:
                reasons["eligible"] += 1

    async def recycle(self, campaign_id: uuid.UUID, outcomes: Sequence[str], *,
                      actor_id: uuid.UUID | None = None) -> dict[str, Any]:
        """Leads whose last attempt ended with one of ``outcomes`` (and that are not done nor
        DNC) become dialable again now, with their attempt count reset. Audited."""
        chosen = sorted(set(outcomes))
        if not chosen:
            raise InvalidInputError("outcomes", "choose at least one outcome")
        bad = [o for o in chosen if o not in RECYCLABLE]
        if bad:
            raise InvalidInputError("outcomes", f"not a recyclable outcome: {bad[0]}",
                                    allowed=list(RECYCLABLE))
        now = self._clock.now()
        async with transaction(self._sessions) as s:
            if await s.get(Campaign, campaign_id) is None:
                raise NotFoundError("campaign", campaign_id)
            stmt = (
                sa.update(Lead)
                .where(col(Lead.campaign_id) == campaign_id,
                       col(Lead.last_outcome).in_(chosen),
                       col(Lead.status).in_((LeadStatus.RETRY.value,
                                             LeadStatus.EXHAUSTED.value)),
                       ~dnc_clause(col(Lead.phone_e164), col(Lead.campaign_id)))
                .values(status=LeadStatus.RETRY.value, attempts=0, next_attempt_at=None,
                        outcome_counts={}, close_reason=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            result: Any = await s.execute(stmt)
            count = int(result.rowcount or 0)
            audit(s, actor_id, "campaign.leads_recycled", "campaign", campaign_id,
                  {"outcomes": chosen, "leads": count})
        return {"campaign_id": str(campaign_id), "outcomes": chosen, "recycled": count}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
