"""The Alembic migrations build exactly the schema the SQLModel metadata describes."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm.db.engine import make_engine, metadata
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
