"""What the supervisors' screens read from and write to the CRM (the web shell's wallboard and
call monitoring): the open to-do list of ``supervisor_todo`` firings with the customers' and
owners' names, and the audit of listen / whisper / barge sessions.

The web shell calls these instead of querying the CRM's tables or writing audit rows itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Customer
from crm.db.models_ops import User
from crm.services.common import audit, transaction
from crm.services.rules_store import RuleAudit


@dataclass(frozen=True)
class TodoItem:
    """One open supervisor to-do task, with the firing that made it."""

    task_id: uuid.UUID
    title: str
    description: str | None
    customer_id: uuid.UUID | None
    customer_name: str | None
    call_id: str | None
    rule_id: str
    evidence: tuple[object, ...]
    due_at: datetime | None
    created_at: datetime | None
    owner_id: uuid.UUID | None
    owner_name: str | None
    priority: int


@dataclass(frozen=True)
class TodoList:
    items: tuple[TodoItem, ...]
    total: int


class SupervisionService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rule_audit: RuleAudit) -> None:
        self._sessions = sessions
        self._rule_audit = rule_audit

    async def open_todo(self, limit: int) -> TodoList:
        """The open supervisor to-do items (every manager's), most urgent and newest first, with
        the customer's name and the owner's user name; ``total`` counts them all."""
        page = await self._rule_audit.supervisor_todo(owner_id=None, include_unowned=True,
                                                      status="open", limit=limit)
        customers = {t.customer_id for t, _ in page.items if t.customer_id is not None}
        owners = {t.owner_id for t, _ in page.items if t.owner_id is not None}
        names: dict[uuid.UUID | None, str] = {}
        users: dict[uuid.UUID | None, str] = {}
        async with self._sessions() as s:
            if customers:
                rows = await s.execute(sa.select(col(Customer.id), col(Customer.name)).where(
                    col(Customer.id).in_(customers)))
                names = {k: v for k, v in rows.all()}
            if owners:
                rows = await s.execute(sa.select(col(User.id), col(User.username)).where(
                    col(User.id).in_(owners)))
                users = {k: v for k, v in rows.all()}
        items = tuple(
            TodoItem(task_id=task.id, title=task.title, description=task.description,
                     customer_id=task.customer_id,
                     customer_name=names.get(task.customer_id),
                     call_id=firing.call_id, rule_id=firing.rule_id,
                     evidence=tuple(firing.evidence or ()), due_at=task.due_at,
                     created_at=task.created_at, owner_id=task.owner_id,
                     owner_name=users.get(task.owner_id),
                     priority=task.priority)
            for task, firing in page.items)
        return TodoList(items=items, total=page.total)

    async def record_monitor(self, actor_id: uuid.UUID | None, change: str, call_id: str, *,
                             monitor_id: str, supervisor: str, extension: str | None,
                             mode: str | None, reason: str | None) -> None:
        """Audit one change of a supervisor's monitor on a live call (``monitor.<change>``:
        started, mode_changed, ended) in its own transaction."""
        async with transaction(self._sessions) as s:
            audit(s, actor_id, f"monitor.{change}", "call", call_id, {
                "monitor_id": monitor_id, "supervisor": supervisor, "extension": extension,
                "mode": mode, "reason": reason})
