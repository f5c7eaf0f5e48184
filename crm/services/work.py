"""Tasks and notes (the agent's and supervisor's to-do list, and free-text history)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Note, Task
from crm.db.models_ops import User
from crm.domain.enums import TaskOrigin, TaskStatus
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services.common import Page, audit, paginate, reject_nulls, transaction
from crm.services.customers import resolve_customer

MAX_NOTE = 20_000


@dataclass(frozen=True)
class TaskInput:
    title: str
    customer_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    due_at: datetime | None = None
    priority: int = 0
    description: str | None = None
    origin: TaskOrigin = TaskOrigin.MANUAL
    call_id: str | None = None


@dataclass(frozen=True)
class TaskChanges:
    title: str | None = None
    description: str | None = None
    due_at: datetime | None = None
    owner_id: uuid.UUID | None = None
    priority: int | None = None
    status: TaskStatus | None = None
    fields_set: frozenset[str] = field(default_factory=frozenset)


class WorkService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self.task_listeners: list[Callable[[], None]] = []  # called after a task commit

    def _changed(self) -> None:
        for listener in self.task_listeners:
            try:
                listener()
            except Exception:
                logging.getLogger(__name__).exception("task listener failed")

    async def create_task(self, data: TaskInput, *, actor_id: uuid.UUID | None = None) -> Task:
        title = (data.title or "").strip()
        if not title or len(title) > 200:
            raise InvalidInputError("title", "title must be 1..200 characters")
        async with transaction(self._sessions) as s:
            customer_id = None
            if data.customer_id is not None:
                customer_id = (await resolve_customer(s, data.customer_id)).id
            await _check_user(s, data.owner_id, "owner_id")
            task = Task(
                title=title,
                customer_id=customer_id,
                owner_id=data.owner_id,
                due_at=data.due_at,
                priority=data.priority,
                description=data.description,
                origin=data.origin.value,
                call_id=data.call_id,
            )
            s.add(task)
            await s.flush()
            audit(s, actor_id, "task.created", "task", task.id, {"origin": data.origin.value})
        self._changed()
        return task

    async def get_task(self, task_id: uuid.UUID) -> Task:
        async with self._sessions() as s:
            task = await s.get(Task, task_id)
            if task is None:
                raise NotFoundError("task", task_id)
            return task

    async def update_task(
        self, task_id: uuid.UUID, changes: TaskChanges, *, actor_id: uuid.UUID | None = None
    ) -> Task:
        async with transaction(self._sessions) as s:
            task = await s.get(Task, task_id)
            if task is None:
                raise NotFoundError("task", task_id)
            for name in changes.fields_set:
                value = getattr(changes, name)
                reject_nulls({name: value}, {"description", "due_at", "owner_id"})
                if name == "owner_id":
                    await _check_user(s, value, "owner_id")
                if name == "title" and not (value or "").strip():
                    raise InvalidInputError("title", "title must not be empty")
                setattr(task, name, value.value if isinstance(value, TaskStatus) else value)
            if "status" in changes.fields_set:
                done = changes.status is TaskStatus.DONE
                task.completed_at = self._clock.now() if done else None
            task.updated_at = self._clock.now()
            audit(
                s, actor_id, "task.updated", "task", task.id, {"fields": sorted(changes.fields_set)}
            )
        self._changed()
        return task

    async def list_tasks(
        self,
        *,
        owner_id: uuid.UUID | None = None,
        customer_id: uuid.UUID | None = None,
        status: TaskStatus | None = None,
        due_before: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Task]:
        stmt = sa.select(Task)
        if owner_id is not None:
            stmt = stmt.where(col(Task.owner_id) == owner_id)
        if customer_id is not None:
            stmt = stmt.where(col(Task.customer_id) == customer_id)
        if status is not None:
            stmt = stmt.where(col(Task.status) == status.value)
        if due_before is not None:
            stmt = stmt.where(col(Task.due_at) <= due_before)
        stmt = stmt.order_by(
            col(Task.due_at).asc().nulls_last(), col(Task.priority).desc(), col(Task.id)
        )
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)

    async def add_note(
        self,
        customer_id: uuid.UUID,
        body: str,
        *,
        author_id: uuid.UUID | None = None,
        call_id: str | None = None,
    ) -> Note:
        text = (body or "").strip()
        if not text or len(text) > MAX_NOTE:
            raise InvalidInputError("body", f"note must be 1..{MAX_NOTE} characters")
        async with transaction(self._sessions) as s:
            customer = await resolve_customer(s, customer_id)
            note = Note(customer_id=customer.id, body=text, author_id=author_id, call_id=call_id)
            s.add(note)
            await s.flush()
            return note

    async def list_notes(
        self, customer_id: uuid.UUID, *, limit: int = 50, offset: int = 0
    ) -> Page[Note]:
        async with self._sessions() as s:
            customer = await resolve_customer(s, customer_id)
            stmt = (
                sa.select(Note)
                .where(col(Note.customer_id) == customer.id)
                .order_by(col(Note.created_at).desc(), col(Note.id))
            )
            return await paginate(s, stmt, limit, offset)


async def _check_user(s: AsyncSession, user_id: uuid.UUID | None, field_name: str) -> None:
    if user_id is not None and await s.get(User, user_id) is None:
        raise InvalidInputError(field_name, "no such user")
