"""Call events from the dialer: idempotent ingestion and the rebuilt ``calls`` projection."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Call, CallEventRow, Customer, PhoneNumber, Recording
from crm.db.models_ops import Campaign, Lead, User
from crm.domain.calls import CallEvent, CallProjection, parse_call_event, project_call
from crm.domain.phones import try_normalise
from crm.errors import ConflictError, NotFoundError
from crm.ports import Clock
from crm.services.common import Page, paginate, transaction
from crm.services.customers import resolve_customer

log = logging.getLogger(__name__)

EventListener = Callable[[CallEvent], Awaitable[None]]


@dataclass(frozen=True)
class IngestResult:
    created: bool  # False: we already had this event_id (nothing written)
    call_id: str
    event_id: str


def _as_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class CallService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, default_region: str
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._region = default_region
        # called after a new event is committed (e.g. the transcript analysis); a failing
        # listener is logged, never undoes the stored event
        self.listeners: list[EventListener] = []

    async def ingest(self, data: Mapping[str, Any]) -> IngestResult:
        """Store one event exactly once and rebuild its call. Safe to retry, any order."""
        event = parse_call_event(data, self._clock.now())
        try:
            result = await self._ingest(event)
        except ConflictError:
            if await self._have_event(event.event_id):  # lost a race with the same event
                return IngestResult(False, event.call_id, event.event_id)
            raise
        if result.created:
            await self._notify(event)
        return result

    async def _notify(self, event: CallEvent) -> None:
        for listener in self.listeners:
            try:
                await listener(event)
            except Exception:  # noqa: BLE001 - one listener's failure must not fail ingestion
                log.exception("call %s: listener failed on event %s", event.call_id,
                              event.event_id)

    async def _have_event(self, event_id: str) -> bool:
        async with self._sessions() as s:
            found = await s.scalar(
                sa.select(col(CallEventRow.id)).where(col(CallEventRow.event_id) == event_id)
            )
            return found is not None

    async def _ingest(self, event: CallEvent) -> IngestResult:
        async with transaction(self._sessions) as s:
            existing = await s.scalar(
                sa.select(col(CallEventRow.call_id)).where(
                    col(CallEventRow.event_id) == event.event_id
                )
            )
            if existing is not None:
                log.debug("call %s: duplicate event %s", event.call_id, event.event_id)
                return IngestResult(False, existing, event.event_id)
            s.add(
                CallEventRow(
                    event_id=event.event_id,
                    call_id=event.call_id,
                    type=event.type.value,
                    occurred_at=event.occurred_at,
                    received_at=self._clock.now(),
                    payload=event.payload(),
                )
            )
            await s.flush()
            rows = await s.scalars(
                sa.select(CallEventRow).where(col(CallEventRow.call_id) == event.call_id)
            )
            events = [parse_call_event(r.payload, r.occurred_at) for r in rows]
            await self._store_projection(s, project_call(event.call_id, events))
            log.debug(
                "call %s: stored event %s (%s)", event.call_id, event.event_id, event.type.value
            )
            return IngestResult(True, event.call_id, event.event_id)

    async def _store_projection(self, s: AsyncSession, p: CallProjection) -> None:
        values = asdict(p)
        values.update(
            customer_id=await self._customer_ref(s, p),
            campaign_id=await self._ref(s, Campaign, p.campaign_id),
            lead_id=await self._ref(s, Lead, p.lead_id),
            agent_id=await self._agent_ref(s, p.agent_id),
            state=p.state.value,
            updated_at=self._clock.now(),
        )
        call = await s.get(Call, p.call_id)
        if call is None:
            values["recording_id"] = await s.scalar(
                sa.select(col(Recording.id))
                .where(col(Recording.call_id) == p.call_id)
                .order_by(col(Recording.created_at).desc())
                .limit(1)
            )
            call = Call(**values)
            s.add(call)
        else:
            for key, value in values.items():
                setattr(call, key, value)
        await self._touch_customer(s, call)

    async def _customer_ref(self, s: AsyncSession, p: CallProjection) -> uuid.UUID | None:
        cid = _as_uuid(p.customer_id)
        if cid is not None:
            try:
                return (await resolve_customer(s, cid)).id
            except NotFoundError:
                log.warning("call %s: unknown customer_id %s", p.call_id, p.customer_id)
        number = try_normalise(p.number_dialed, self._region) if p.number_dialed else None
        if number is None:
            return None
        owner = await s.scalar(
            sa.select(col(PhoneNumber.customer_id)).where(col(PhoneNumber.e164) == number.e164)
        )
        return (await resolve_customer(s, owner)).id if owner else None

    @staticmethod
    async def _ref(s: AsyncSession, model: Any, raw: str | None) -> uuid.UUID | None:
        ref = _as_uuid(raw)
        if ref is None or await s.get(model, ref) is None:
            return None
        return ref

    @staticmethod
    async def _agent_ref(s: AsyncSession, raw: str | None) -> uuid.UUID | None:
        if raw is None:
            return None
        ref = _as_uuid(raw)
        if ref is not None and await s.get(User, ref) is not None:
            return ref
        return await s.scalar(sa.select(col(User.id)).where(col(User.username) == raw))

    @staticmethod
    async def _touch_customer(s: AsyncSession, call: Call) -> None:
        """``last_call_time`` = the start of the customer's latest call (recomputed, so a late
        ``originated`` event corrects an earlier estimate)."""
        if call.customer_id is None:
            return
        await s.flush()
        latest = await s.scalar(
            sa.select(
                sa.func.max(sa.func.coalesce(col(Call.originated_at), col(Call.last_event_at)))
            ).where(col(Call.customer_id) == call.customer_id)
        )
        customer = await s.get(Customer, call.customer_id)
        if customer is not None and latest is not None:
            customer.last_call_time = latest

    async def get(self, call_id: str) -> tuple[Call, list[CallEventRow]]:
        async with self._sessions() as s:
            call = await s.get(Call, call_id)
            if call is None:
                raise NotFoundError("call", call_id)
            events = await s.scalars(
                sa.select(CallEventRow)
                .where(col(CallEventRow.call_id) == call_id)
                .order_by(col(CallEventRow.occurred_at), col(CallEventRow.id))
            )
            return call, list(events)

    async def list(
        self,
        *,
        customer_id: uuid.UUID | None = None,
        campaign_id: uuid.UUID | None = None,
        agent_id: uuid.UUID | None = None,
        manager_id: uuid.UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Call]:
        """``manager_id``: only the calls that manager may see (crm.domain.access: their
        campaigns', their own, and those of no managed campaign)."""
        stmt = sa.select(Call)
        if manager_id is not None:
            theirs = sa.select(col(Campaign.id)).where(
                sa.or_(col(Campaign.manager_id).is_(None), col(Campaign.manager_id) == manager_id))
            stmt = stmt.where(sa.or_(col(Call.campaign_id).is_(None),
                                     col(Call.campaign_id).in_(theirs),
                                     col(Call.agent_id) == manager_id))
        if customer_id is not None:
            stmt = stmt.where(col(Call.customer_id) == customer_id)
        if campaign_id is not None:
            stmt = stmt.where(col(Call.campaign_id) == campaign_id)
        if agent_id is not None:
            stmt = stmt.where(col(Call.agent_id) == agent_id)
        stmt = stmt.order_by(col(Call.originated_at).desc().nulls_last(), col(Call.call_id))
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)
