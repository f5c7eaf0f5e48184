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
from crm.db.models_ops import ApiToken, ScriptTemplate, User
from crm.db.models_speech import WorkflowRuleRow
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


@pytest.mark.parametrize("backend", _urls())
async def test_given_scripts_and_rules_before_0013_when_upgrading_then_admin_owned(
    backend, tmp_path: Path
):
    """Scripts and rules made before owners were kept have none (admin-owned, issue 17 finding
    5); an old script stays a script of every campaign."""
    scratch = f"crm_migr_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    else:
        url = await _pg_scratch_db(backend, scratch, drop=False)
    try:
        await asyncio.to_thread(upgrade, url, "0012")
        script_id, created = uuid.uuid4(), datetime(2026, 1, 5, tzinfo=UTC)
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(_SCRIPTS_0012).values(
                    id=script_id, name="old", language="zh", body="b", tags=[], priority=0,
                    active=True, created_at=created))
                await conn.execute(sa.insert(_RULES_0012).values(
                    id="old-rule", trigger="pre_call", priority=100, enabled=True,
                    definition={}, created_at=created, updated_at=created))
            await asyncio.to_thread(upgrade, url)
            async with engine.connect() as conn:
                script = (await conn.execute(sa.select(
                    ScriptTemplate.__table__.c.owner_id, ScriptTemplate.__table__.c.campaign_id
                ))).one()
                rule_owner = await conn.scalar(sa.select(WorkflowRuleRow.__table__.c.owner_id))
        finally:
            await engine.dispose()
        assert tuple(script) == (None, None) and rule_owner is None
    finally:
        if backend != "sqlite":
            await _pg_scratch_db(backend, scratch, drop=True)


_SCRIPTS_0012 = sa.table(  # script_templates as revision 0012 left it
    "script_templates",
    *(sa.column(name) for name in ("name", "language", "body", "priority", "active")),
    sa.column("id", sa.Uuid()),
    sa.column("tags", sa.JSON()),
    sa.column("created_at", UtcDateTime()),
)
_RULES_0012 = sa.table(  # workflow_rules as revision 0012 left it
    "workflow_rules",
    *(sa.column(name) for name in ("id", "trigger", "priority", "enabled")),
    sa.column("definition", sa.JSON()),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)
