"""SQL implementation of :class:`crm.ports.LeadRepository` (the dialer hopper's lead store).

Locking is a conditional UPDATE (``locked_until`` is empty or past), which is atomic on SQLite
and PostgreSQL alike, so two hopper workers never get the same lead.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_conversion import CustomerRoute
from crm.db.models_ops import Campaign, Disposition, Lead
from crm.domain.callbacks import ClaimFor, claimable
from crm.domain.enums import AttemptOutcome, CampaignStatus, LeadStatus
from crm.domain.leads import (
    CallingWindow,
    RetryPolicy,
    RetryRule,
    count_outcome,
    exhausted_reason,
    schedule_after_attempt,
)
from crm.domain.phones import zones_for_number
from crm.errors import LeadLockedError, NotFoundError
from crm.ports import Clock, LeadView
from crm.services.common import audit, transaction
from crm.services.dnc import dnc_clause

DIALABLE = [s.value for s in LeadStatus if s.dialable]
_SCAN_PAGES = 5


def policy_of(c: Campaign) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=c.max_attempts,
        rules={
            AttemptOutcome.NO_ANSWER: RetryRule(c.retry_no_answer_minutes, c.max_retries_no_answer),
            AttemptOutcome.BUSY: RetryRule(c.retry_busy_minutes, c.max_retries_busy),
            AttemptOutcome.FAILED: RetryRule(c.retry_failed_minutes, c.max_retries_failed),
            AttemptOutcome.MACHINE: RetryRule(c.retry_machine_minutes, c.max_retries_machine),
            AttemptOutcome.ABANDONED: RetryRule(
                c.retry_abandoned_minutes, c.max_retries_abandoned
            ),
        },
    )


def window_of(c: Campaign) -> CallingWindow:
    return CallingWindow(
        start=time.fromisoformat(c.window_start), end=time.fromisoformat(c.window_end)
    )


def in_nurture(customer_id: sa.ColumnElement[uuid.UUID] | Any) -> sa.Exists:
    """The customer is in automated nurturing (conversion route): agents do not dial them."""
    return sa.exists().where(col(CustomerRoute.customer_id) == customer_id,
                             col(CustomerRoute.route) == "nurture")


def lead_view(lead: Lead, zone: str) -> LeadView:
    return LeadView(
        id=lead.id,
        campaign_id=lead.campaign_id,
        customer_id=lead.customer_id,
        phone_e164=lead.phone_e164,
        priority=lead.priority,
        attempts=lead.attempts,
        status=LeadStatus(lead.status),
        next_attempt_at=lead.next_attempt_at,
        timezone=zone,
        agent_id=lead.agent_id,
        locked_by=lead.locked_by,
        locked_until=lead.locked_until,
        last_outcome=lead.last_outcome,
        outcome_counts=dict(lead.outcome_counts or {}),
        close_reason=lead.close_reason,
        created_at=lead.created_at,
        last_attempt_at=lead.last_attempt_at,
        callback_owner=lead.callback_owner,
    )


class RetryPlanner(Protocol):
    """Moves a retry to a better time, never before ``earliest`` (the retry delay); None
    keeps ``earliest``. ``lead`` is as before the attempt."""

    async def plan_retry(self, s: AsyncSession, lead: Lead, campaign: Campaign,
                         zones: Sequence[str], window: CallingWindow, outcome: AttemptOutcome,
                         now: datetime, earliest: datetime) -> datetime | None: ...


class SqlLeadRepository:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, default_timezone: str
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._tz = default_timezone
        self.retry_planner: RetryPlanner | None = None

    def _zones(self, lead: Lead, campaign: Campaign) -> tuple[str, ...]:
        """The lead's own zone: its override, else the number's (all candidate zones when the
        number spans several: the window must hold in each), else the campaign's, else ours."""
        if lead.timezone:
            return (lead.timezone,)
        return zones_for_number(lead.phone_e164) or (campaign.timezone or self._tz,)

    def _zone(self, lead: Lead, campaign: Campaign) -> str:
        return self._zones(lead, campaign)[0]

    @staticmethod
    def _owner_clause(now: datetime, who: ClaimFor) -> sa.ColumnElement[bool]:
        """The SQL side of :func:`crm.domain.callbacks.claimable` (that function decides)."""
        owner = col(Lead.callback_owner)
        if who.owners:
            return owner.in_(who.owners)
        return sa.or_(owner.is_(None), col(Lead.next_attempt_at) <= now - who.grace)

    def _eligible_stmt(self, campaign_id: uuid.UUID, now: datetime,
                       who: ClaimFor | None = None) -> sa.Select[Lead]:
        who = who or ClaimFor()
        return (
            sa.select(Lead)
            .join(Campaign, col(Campaign.id) == col(Lead.campaign_id))
            .where(
                col(Lead.campaign_id) == campaign_id,
                col(Campaign.status) == CampaignStatus.ACTIVE.value,
                col(Lead.status).in_(DIALABLE),
                sa.or_(col(Lead.next_attempt_at).is_(None), col(Lead.next_attempt_at) <= now),
                sa.or_(col(Lead.locked_until).is_(None), col(Lead.locked_until) <= now),
                col(Lead.attempts) < col(Campaign.max_attempts),
                ~dnc_clause(col(Lead.phone_e164), col(Lead.campaign_id)),
                ~in_nurture(col(Lead.customer_id)),
                self._owner_clause(now, who),
            )
            .order_by(
                col(Lead.priority).desc(),
                col(Lead.next_attempt_at).asc().nulls_first(),
                col(Lead.created_at),
                col(Lead.id),
            )
        )

    async def _eligible(
        self,
        s: AsyncSession,
        campaign_id: uuid.UUID,
        limit: int,
        now: datetime,
        spent: list[Lead] | None = None,
        who: ClaimFor | None = None,
    ) -> list[LeadView]:
        """Leads to dial now. Leads whose retries of some outcome are used up (the campaign's
        maximum was lowered after their last attempt) are skipped, and collected in ``spent``."""
        campaign = await s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFoundError("campaign", campaign_id)
        who = who or ClaimFor()
        window, stmt, found = window_of(campaign), self._eligible_stmt(campaign_id, now, who), []
        policy = policy_of(campaign)
        for page in range(_SCAN_PAGES):  # skip leads whose local time is outside the window
            rows = (await s.scalars(stmt.limit(limit * 4).offset(page * limit * 4))).all()
            for lead in rows:
                if policy.exhausted_by(lead.outcome_counts or {}) is not None:
                    if spent is not None:
                        spent.append(lead)
                    continue
                if not claimable(lead.callback_owner, lead.next_attempt_at, now, who):
                    continue
                zones = self._zones(lead, campaign)
                if all(window.allows(now, zone) for zone in zones):
                    found.append(lead_view(lead, zones[0]))
                if len(found) >= limit:
                    return found
            if len(rows) < limit * 4:
                break
        return found

    async def next_eligible(self, campaign_id: uuid.UUID, limit: int) -> Sequence[LeadView]:
        async with self._sessions() as s:
            return await self._eligible(s, campaign_id, limit, self._clock.now())

    async def claim(
        self, campaign_id: uuid.UUID, worker: str, limit: int, ttl: timedelta,
        who: ClaimFor | None = None,
    ) -> Sequence[LeadView]:
        now = self._clock.now()
        until = now + ttl
        async with transaction(self._sessions) as s:
            spent: list[Lead] = []
            ids = [v.id for v in await self._eligible(s, campaign_id, limit, now, spent, who)]
            if spent:
                await self._close_spent(s, spent, now)
            if not ids:
                return []
            await s.execute(
                sa.update(Lead)
                .where(
                    col(Lead.id).in_(ids),
                    col(Lead.status).in_(DIALABLE),
                    sa.or_(col(Lead.locked_until).is_(None), col(Lead.locked_until) <= now),
                )
                .values(locked_by=worker, locked_until=until)
                .execution_options(synchronize_session=False)
            )
            campaign = await s.get(Campaign, campaign_id)
            assert campaign is not None
            rows = (
                await s.scalars(
                    sa.select(Lead)
                    .where(
                        col(Lead.id).in_(ids),
                        col(Lead.locked_by) == worker,
                        col(Lead.locked_until) == until,
                    )
                    .order_by(col(Lead.priority).desc(), col(Lead.created_at), col(Lead.id))
                    .execution_options(populate_existing=True)
                )
            ).all()
            if not (who and who.owners):
                self._fall_back(s, rows, now)
            return [lead_view(r, self._zone(r, campaign)) for r in rows]

    @staticmethod
    def _fall_back(s: AsyncSession, rows: Sequence[Lead], now: datetime) -> None:
        """Personal callbacks a general claim took (their owner away past the grace) become
        the campaign's, audited."""
        for lead in rows:
            if lead.callback_owner is None:
                continue
            audit(s, None, "callback.fallback", "lead", lead.id,
                  {"owner": lead.callback_owner, "due": str(lead.next_attempt_at)})
            lead.callback_owner, lead.updated_at = None, now

    async def _close_spent(self, s: AsyncSession, leads: list[Lead], now: datetime) -> None:
        campaign = await s.get(Campaign, leads[0].campaign_id)
        assert campaign is not None
        policy = policy_of(campaign)
        for lead in leads:
            outcome = policy.exhausted_by(lead.outcome_counts or {})
            if outcome is None:
                continue
            lead.status, lead.next_attempt_at = LeadStatus.EXHAUSTED.value, None
            lead.close_reason, lead.updated_at = exhausted_reason(outcome, policy), now

    async def unlock(self, lead_ids: Sequence[uuid.UUID], worker: str) -> int:
        if not lead_ids:
            return 0
        async with transaction(self._sessions) as s:
            result = await s.execute(
                sa.update(Lead)
                .where(col(Lead.id).in_(list(lead_ids)), col(Lead.locked_by) == worker)
                .values(locked_by=None, locked_until=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def record_attempt(
        self,
        lead_id: uuid.UUID,
        outcome: AttemptOutcome,
        *,
        worker: str | None = None,
        call_id: str | None = None,
        disposition: str | None = None,
        callback_at: datetime | None = None,
        callback_owner: str | None = None,
    ) -> LeadView:
        now = self._clock.now()
        async with transaction(self._sessions) as s:
            lead = await s.get(Lead, lead_id)
            if lead is None:
                raise NotFoundError("lead", lead_id)
            campaign = await s.get(Campaign, lead.campaign_id)
            assert campaign is not None
            held = lead.locked_until is not None and lead.locked_until > now
            if worker is not None and held and lead.locked_by not in (None, worker):
                raise LeadLockedError(
                    f"lead {lead_id} is locked by another worker",
                    details={"locked_by": lead.locked_by},
                )
            final = False
            if disposition:
                final = bool(
                    await s.scalar(
                        sa.select(col(Disposition.is_final)).where(
                            col(Disposition.code) == disposition
                        )
                    )
                )
            counts = count_outcome(lead.outcome_counts or {}, outcome)
            result = schedule_after_attempt(
                outcome=outcome,
                attempts_after=lead.attempts + 1,
                now=now,
                policy=policy_of(campaign),
                disposition_final=final,
                callback_at=callback_at,
                counts_after=counts,
            )
            if self.retry_planner is not None and result.status is LeadStatus.RETRY \
                    and result.next_attempt_at is not None:
                better = await self.retry_planner.plan_retry(
                    s, lead, campaign, self._zones(lead, campaign), window_of(campaign),
                    outcome, now, result.next_attempt_at)
                if better is not None and better >= result.next_attempt_at:
                    result = dataclasses.replace(result, next_attempt_at=better)
            lead.attempts += 1
            lead.outcome_counts, lead.close_reason = counts, result.close_reason
            lead.status, lead.next_attempt_at = result.status.value, result.next_attempt_at
            lead.last_outcome, lead.last_attempt_at = outcome.value, now
            lead.last_call_id = call_id or lead.last_call_id
            # a personal callback stays its owner's through its retries; a new one is the agent's
            # (or the campaign's), anything else is nobody's
            kept = lead.callback_owner if result.status is LeadStatus.RETRY else None
            lead.callback_owner = callback_owner if callback_at is not None else kept
            lead.locked_by, lead.locked_until, lead.updated_at = None, None, now
            return lead_view(lead, self._zone(lead, campaign))
