"""The screen-pop summary of a customer: only the essentials, in a handful of indexed queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Call, PhoneNumber, Task
from crm.db.models_conversion import CustomerRoute
from crm.db.models_ops import ScriptTemplate
from crm.domain.enums import Language, TaskStatus
from crm.domain.scripts import ScriptCandidate, recommend_script
from crm.services.customers import resolve_customer, tags_of
from crm.services.reference import scripts_of


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class SummaryService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def customer_summary(
        self,
        customer_id: uuid.UUID,
        *,
        language: Language = Language.ZH,
        campaign_id: uuid.UUID | None = None,
        contacts: int = 5,
        tasks: int = 10,
    ) -> dict[str, Any]:
        """The pop's essentials; the script is chosen among every campaign's scripts and
        ``campaign_id``'s (the call's campaign) only."""
        async with self._sessions() as s:
            customer = await resolve_customer(s, customer_id)
            numbers = (
                await s.scalars(
                    sa.select(PhoneNumber)
                    .where(col(PhoneNumber.customer_id) == customer.id)
                    .order_by(col(PhoneNumber.created_at))
                )
            ).all()
            tags = (await tags_of(s, [customer.id]))[customer.id]
            calls = await _recent_calls(s, customer.id, contacts)
            open_tasks = await _open_tasks(s, customer.id, tasks)
            script = await self._script(s, tags, language, campaign_id)
            route = await s.get(CustomerRoute, customer.id)
        return {
            "customer_id": str(customer.id),
            "requested_id": str(customer_id),
            "name": customer.name,
            "last_call_time": _iso(customer.last_call_time),
            "numbers": [
                {"e164": n.e164, "type": n.number_type, "national": n.raw} for n in numbers
            ],
            "tags": tags,
            "recent_contacts": [_contact(c) for c in calls],
            "open_tasks": [_task(t) for t in open_tasks],
            "recommended_script": script,
            "conversion": None if route is None else {  # the conversion routing's verdict
                "route": route.route, "p_convert": route.p_convert, "reason": route.reason,
                "overridden": route.override_route is not None},
        }

    @staticmethod
    async def _script(
        s: AsyncSession, tags: list[str], language: Language, campaign_id: uuid.UUID | None
    ) -> dict[str, Any] | None:
        rows = await s.scalars(
            sa.select(ScriptTemplate).where(
                col(ScriptTemplate.active).is_(True), scripts_of(campaign_id)
            )
        )
        candidates = [
            ScriptCandidate(
                id=str(r.id),
                name=r.name,
                language=r.language,
                tags=frozenset(r.tags or []),
                priority=r.priority,
                body=r.body,
            )
            for r in rows
        ]
        best = recommend_script(candidates, tags, language.value)
        if best is None:
            return None
        return {
            "id": best.id,
            "name": best.name,
            "language": best.language,
            "body": best.body,
            "matched_tags": sorted(
                {t for t in best.tags if t.casefold() in {x.casefold() for x in tags}}
            ),
        }


def _contact(c: Call) -> dict[str, Any]:
    return {
        "call_id": c.call_id,
        "at": _iso(c.originated_at or c.last_event_at),
        "state": c.state,
        "outcome": c.outcome,
        "disposition": c.disposition,
        "talk_seconds": c.talk_seconds,
        "intent_score": c.intent_score,
        "agent_id": str(c.agent_id) if c.agent_id else None,
    }


def _task(t: Task) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "title": t.title,
        "due_at": _iso(t.due_at),
        "priority": t.priority,
        "origin": t.origin,
    }


async def _recent_calls(s: AsyncSession, customer_id: uuid.UUID, n: int) -> Sequence[Call]:
    stmt = (
        sa.select(Call)
        .where(col(Call.customer_id) == customer_id)
        .order_by(col(Call.originated_at).desc().nulls_last())
        .limit(n)
    )
    return (await s.scalars(stmt)).all()


async def _open_tasks(s: AsyncSession, customer_id: uuid.UUID, n: int) -> Sequence[Task]:
    stmt = (
        sa.select(Task)
        .where(col(Task.customer_id) == customer_id, col(Task.status) == TaskStatus.OPEN.value)
        .order_by(col(Task.due_at).asc().nulls_last(), col(Task.priority).desc())
        .limit(n)
    )
    return (await s.scalars(stmt)).all()
