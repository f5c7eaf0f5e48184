"""Testing support for the CRM: fresh schemas (SQLite always; PostgreSQL too when
CRM_TEST_DATABASE_URL is set), test settings, one user per role, read-outs of its tables.

Plain functions, no pytest (this module ships): the pytest fixtures built on them (``crm_*``)
live in ``tests/helpers/crm_fixtures.py``, loaded by ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from crm.db.engine import create_all, make_engine, metadata
from crm.db.models import CallEventRow
from crm.db.models_ops import Lead
from crm.domain.enums import Role
from crm.ports import Clock, FixedClock
from crm.security import MAX_TOKEN_DAYS
from crm.service import CrmService
from crm.settings import CrmSettings

PG_ENV = "CRM_TEST_DATABASE_URL"
SQLITE = "sqlite"
# 11:00 in Asia/Shanghai: inside the default 09:00-21:00 calling window
CRM_T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
ACTOR_PASSWORD = "password-1"
_pg_schema_ready: set[str] = set()


def backends() -> list[str]:
    """The databases CRM tests run on: ``"sqlite"``, and PostgreSQL's URL when ``PG_ENV`` is set."""
    found = [SQLITE]
    if os.environ.get(PG_ENV):
        found.append(os.environ[PG_ENV])
    return found


async def reset_pg(url: str) -> None:
    """An empty CRM schema on PostgreSQL: built once per URL, truncated afterwards."""
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


async def fresh_database(backend: str, workdir: Path) -> str:
    """The URL of a fresh, empty CRM schema: SQLite in ``workdir``, or ``backend`` (a
    PostgreSQL URL) reset."""
    if backend == SQLITE:
        url = f"sqlite+aiosqlite:///{workdir / 'crm.sqlite3'}"
        engine = make_engine(url)
        await create_all(engine)
        await engine.dispose()
        return url
    await reset_pg(backend)
    return backend


def settings_for_tests(database_url: str, workdir: Path) -> CrmSettings:
    """Settings for a test CRM: files under ``workdir``, a cheap password hash."""
    return CrmSettings(
        database_url=database_url,
        recordings_dir=workdir / "recordings",
        model_dir=workdir / "models",
        password_scrypt_n=16,
        import_batch_size=50,
    )


async def open_service(settings: CrmSettings, clock: Clock | None = None) -> CrmService:
    """The CRM service on ``settings``, its dispositions seeded (close it when done)."""
    service = CrmService.open(settings, clock=clock)
    await service.reference.seed_dispositions()
    return service


async def open_sqlite_crm(workdir: Path, clock: Clock | None = None) -> CrmService:
    """A CRM on a new SQLite file in ``workdir`` (schema created, dispositions seeded), as the
    dialer rigs run it in-process."""
    url = f"sqlite+aiosqlite:///{workdir / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=workdir / "recordings",
                           password_scrypt_n=16)
    service = CrmService(settings, engine, clock=clock or FixedClock(CRM_T0))
    await service.reference.seed_dispositions()
    return service


@dataclass(frozen=True)
class CrmActor:
    user_id: Any
    username: str
    role: Role
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_actors(service: CrmService) -> dict[str, CrmActor]:
    """One user per role (plus a second agent), each with an API token; password
    ``ACTOR_PASSWORD``."""
    actors: dict[str, CrmActor] = {}
    for name, role in (
        ("admin", Role.ADMIN),
        ("manager", Role.MANAGER),
        ("agent", Role.AGENT),
        ("agent2", Role.AGENT),
        ("dialer", Role.DIALER),
    ):
        user = await service.auth.create_user(name, role, password=ACTOR_PASSWORD)
        issued = await service.auth.issue_token(  # long-lived: tests move the clock by months
            user.id, f"{name}-token", expires_in_days=MAX_TOKEN_DAYS
        )
        actors[name] = CrmActor(user.id, name, role, issued.token)
    return actors


async def campaign_leads(service: CrmService, campaign_id: str) -> dict[str, Any]:
    """A campaign's leads (rows of the ``Lead`` table) by phone number (E.164)."""
    async with service.engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(Lead).where(col(Lead.campaign_id) == uuid.UUID(campaign_id))
        )).all()
    return {row.phone_e164: row for row in rows}


async def call_event_rows(service: CrmService) -> list[Any]:
    """Every call event the CRM stored."""
    async with service.engine.connect() as conn:
        return list((await conn.execute(sa.select(CallEventRow))).all())
