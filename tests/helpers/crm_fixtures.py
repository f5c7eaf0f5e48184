"""Pytest fixtures for CRM tests (SQLite always; PostgreSQL too when CRM_TEST_DATABASE_URL is
set), on the plain helpers of :mod:`crm.testing`. ``tests/conftest.py`` loads them for every
test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crm.ports import FixedClock
from crm.service import CrmService
from crm.settings import CrmSettings
from crm.testing import (
    CRM_T0,
    SQLITE,
    CrmActor,
    backends,
    create_actors,
    fresh_database,
    open_service,
    settings_for_tests,
)


def _params() -> list[Any]:
    return [pytest.param(b, id="sqlite" if b == SQLITE else "postgresql") for b in backends()]


@pytest.fixture(params=_params())
async def crm_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty CRM schema on each backend."""
    return await fresh_database(str(request.param), tmp_path)


@pytest.fixture
def crm_clock() -> FixedClock:
    return FixedClock(CRM_T0)


@pytest.fixture
def crm_settings(crm_database_url: str, tmp_path: Path) -> CrmSettings:
    return settings_for_tests(crm_database_url, tmp_path)


@pytest.fixture
async def crm_service(
    crm_settings: CrmSettings, crm_clock: FixedClock
) -> AsyncIterator[CrmService]:
    service = await open_service(crm_settings, crm_clock)
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
async def crm_actors(crm_service: CrmService) -> dict[str, CrmActor]:
    """One user per role (plus a second agent), each with an API token; password 'password-1'."""
    return await create_actors(crm_service)


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
