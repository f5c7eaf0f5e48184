"""The Alembic migrations build exactly the schema the SQLModel metadata describes."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm.db.engine import make_engine, metadata
from crm.db.models_ops import ApiToken, User
from crm.db.types import UtcDateTime
from crm.migrations import downgrade, upgrade
from crm.testing import PG_ENV


async def _diff(url: str) -> list:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()


async def _pg_scratch_db(base_url: str, name: str, drop: bool) -> str:
    url = sa.make_url(base_url)
    engine = make_engine(str(url.set(database="postgres")))
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            verb = "DROP DATABASE IF EXISTS" if drop else "CREATE DATABASE"
            await conn.execute(sa.text(f'{verb} "{name}"'))
    finally:
        await engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _urls() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get(PG_ENV):
        params.append(pytest.param(os.environ[PG_ENV], id="postgresql"))
    return params


@pytest.mark.parametrize("backend", _urls())
async def test_given_empty_db_when_upgrading_then_schema_equals_metadata(backend, tmp_path: Path):
    scratch = f"crm_migr_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    else:
        url = await _pg_scratch_db(backend, scratch, drop=False)
    try:
        await asyncio.to_thread(upgrade, url)
        assert await _diff(url) == []
        await asyncio.to_thread(downgrade, url)
        await asyncio.to_thread(upgrade, url)
        assert await _diff(url) == []
    finally:
        if backend != "sqlite":
            await _pg_scratch_db(backend, scratch, drop=True)


@pytest.mark.parametrize("backend", _urls())
async def test_given_tokens_before_0011_when_upgrading_then_each_live_one_gets_an_expiry(
    backend, tmp_path: Path
):
    """Tokens issued before tokens expired get 90 days from the upgrade (issue 17 item 9); a
    revoked one stays without."""
    scratch = f"crm_migr_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    else:
        url = await _pg_scratch_db(backend, scratch, drop=False)
    try:
        await asyncio.to_thread(upgrade, url, "0010")
        user_id, live, revoked = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        created = datetime(2026, 1, 5, tzinfo=UTC)
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(User.__table__).values(
                    id=user_id, username="old", display_name="old", role="agent", active=True,
                    created_at=created))
                for token_id, gone in ((live, None), (revoked, created)):
                    await conn.execute(sa.insert(_TOKENS_0010).values(
                        id=token_id, user_id=user_id, name="t", token_hash=token_id.hex,
                        created_at=created, revoked_at=gone))
            before = datetime.now(UTC)
            await asyncio.to_thread(upgrade, url)
            async with engine.connect() as conn:
                rows = dict((await conn.execute(
                    sa.select(ApiToken.__table__.c.id, ApiToken.__table__.c.expires_at)
                )).all())
        finally:
            await engine.dispose()
        assert rows[revoked] is None
        assert before + timedelta(days=89) < rows[live] < datetime.now(UTC) + timedelta(days=91)
    finally:
        if backend != "sqlite":
            await _pg_scratch_db(backend, scratch, drop=True)


_TOKENS_0010 = sa.table(  # api_tokens as revision 0010 left it
    "api_tokens",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("token_hash", sa.String()),
    sa.column("created_at", UtcDateTime()),
    sa.column("revoked_at", UtcDateTime()),
)
