"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every engine.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text (so ordering and comparisons
    stay lexicographically correct). Naive datetimes are refused: they are always a bug.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("UtcDateTime needs an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def binary_collated_string(length: int) -> sa.types.TypeEngine[str]:
    """A VARCHAR ordered by code point on both engines (SQLite BINARY, PostgreSQL "C")."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)
