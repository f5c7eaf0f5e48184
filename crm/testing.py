"""Pytest fixtures for CRM tests (SQLite always; PostgreSQL too when CRM_TEST_DATABASE_URL is set).

Test modules import what they use: ``from crm.testing import crm_service  # noqa: F401``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crm.db.engine import create_all, make_engine, metadata
from crm.domain.enums import Role
from crm.ports import FixedClock
from crm.service import CrmService
from crm.settings import CrmSettings

PG_ENV = "CRM_TEST_DATABASE_URL"
# 11:00 in Asia/Shanghai: inside the default 09:00-21:00 calling window
CRM_T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
_pg_schema_ready: set[str] = set()


def _backends() -> list[Any]:
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get(PG_ENV):
        params.append(pytest.param(os.environ[PG_ENV], id="postgresql"))
    return params


async def _reset_pg(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            if url not in _pg_schema_ready:
                await conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
                await conn.run_sync(metadata.drop_all)
                await conn.run_sync(metadata.create_all)
                _pg_schema_ready.add(url)
            else:
                names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
                await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=_backends())
async def crm_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty CRM schema on each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
        engine = make_engine(url)
        await create_all(engine)
        await engine.dispose()
        return url
    await _reset_pg(request.param)
    return str(request.param)


@pytest.fixture
def crm_clock() -> FixedClock:
    return FixedClock(CRM_T0)


@pytest.fixture
def crm_settings(crm_database_url: str, tmp_path: Path) -> CrmSettings:
    return CrmSettings(
        database_url=crm_database_url,
        recordings_dir=tmp_path / "recordings",
        model_dir=tmp_path / "models",
        password_scrypt_n=16,
        import_batch_size=50,
    )


@pytest.fixture
async def crm_service(
    crm_settings: CrmSettings, crm_clock: FixedClock
) -> AsyncIterator[CrmService]:
    service = CrmService.open(crm_settings, clock=crm_clock)
    await service.reference.seed_dispositions()
    try:
        yield service
    finally:
        await service.close()


@dataclass(frozen=True)
class CrmActor:
    user_id: Any
    username: str
    role: Role
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def crm_actors(crm_service: CrmService) -> dict[str, CrmActor]:
    """One user per role (plus a second agent), each with an API token; password 'password-1'."""
    actors: dict[str, CrmActor] = {}
    for name, role in (
        ("admin", Role.ADMIN),
        ("manager", Role.MANAGER),
        ("agent", Role.AGENT),
        ("agent2", Role.AGENT),
        ("dialer", Role.DIALER),
    ):
        user = await crm_service.auth.create_user(name, role, password="password-1")
        issued = await crm_service.auth.issue_token(user.id, f"{name}-token")
        actors[name] = CrmActor(user.id, name, role, issued.token)
    return actors


@pytest.fixture
async def crm_client(
    crm_settings: CrmSettings, crm_service: CrmService, crm_actors: dict[str, CrmActor]
) -> AsyncIterator[Any]:
    """An aiohttp TestClient on ``create_crm_app`` sharing ``crm_service`` (and its clock)."""
    from aiohttp.test_utils import TestClient, TestServer

    from crm.app import create_crm_app

    client = TestClient(TestServer(create_crm_app(crm_settings, service=crm_service)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
