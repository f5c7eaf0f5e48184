"""Helpers shared by the services: pagination, audit entries, id parsing, integrity mapping."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models_ops import AuditLog
from crm.errors import ConflictError, InvalidInputError

T = TypeVar("T")
MAX_PAGE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    limit: int
    offset: int


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError("limit", f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InvalidInputError("offset", "offset must be >= 0")


async def paginate(
    session: AsyncSession, stmt: sa.Select[Any], limit: int, offset: int
) -> Page[Any]:
    check_page(limit, offset)
    total = await session.scalar(
        sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    )
    rows = (await session.scalars(stmt.limit(limit).offset(offset))).all()
    return Page(items=rows, total=int(total or 0), limit=limit, offset=offset)


def parse_uuid(value: object, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInputError(field, f"{field} is not a valid id") from None


def audit(
    session: AsyncSession,
    actor_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            details=details or {},
        )
    )


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work; a unique-constraint race becomes a :class:`ConflictError`."""
    try:
        async with sessions.begin() as session:
            yield session
    except IntegrityError as exc:
        raise ConflictError(
            "the change conflicts with existing data", details={"reason": type(exc.orig).__name__}
        ) from None
    except DataError as exc:  # a value the column cannot hold (length, range)
        raise InvalidInputError(
            "body", "a value does not fit its column", reason=type(exc.orig).__name__
        ) from None


def reject_nulls(values: dict[str, Any], nullable: set[str]) -> None:
    """PATCH bodies may send ``null``; only ``nullable`` fields accept it."""
    for key, value in values.items():
        if value is None and key not in nullable:
            raise InvalidInputError(key, f"{key} must not be null")
