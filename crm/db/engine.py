"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from crm.db import (  # noqa: F401  (registers every table on the metadata)
    models,
    models_conversion,
    models_dialing,
    models_experiments,
    models_members,
    models_ops,
    models_speech,
)
from predictive.private_files import private_sqlite

metadata = models.metadata


def _sqlite_path(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def make_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine; on SQLite, create the database file ``0o600`` (its folder
    ``0o700`` where created: :func:`~predictive.private_files.private_sqlite`) and turn on
    foreign keys, WAL and a busy timeout so concurrent writers wait instead of failing."""
    url = sa.make_url(database_url)
    path = _sqlite_path(url)
    if path is not None:
        private_sqlite(path)
    engine = create_async_engine(url, echo=echo)
    if url.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_all(engine: AsyncEngine) -> None:
    """Create tables straight from the metadata (tests); production uses the migrations."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
