"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, and the app served: as
is (``app_url``), for the agent page (``desk``) and for the console (``console``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, async_playwright

from ari_app.settings import DialerSettings
from crm.settings import CrmSettings
from tests.conftest import ari_config_from_env
from tests.helpers.agent_desk import Desk
from tests.helpers.console_page import Console
from web.dialer.api import DIALER_KEY
from web.main import build_app

CHROMIUM = os.environ.get("DIALCRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (make setup installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def app_url(asterisk, tmp_path: Path) -> AsyncIterator[str]:
    """The whole app (controller + pages) on a free loopback port, on the real Asterisk."""
    settings = DialerSettings.load({"DIALCRM_DATA_DIR": str(tmp_path),
                                    "DIALCRM_ARI_APP": ari_config_from_env().app})
    crm = CrmSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/crm.sqlite3",
                      recordings_dir=tmp_path / "recordings", password_scrypt_n=16)
    server = TestServer(build_app(settings, crm), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/"))
    await server.close()


@pytest.fixture
async def desk(asterisk: Any, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = DialerSettings.load({"DIALCRM_DATA_DIR": str(tmp_path),
                                    "DIALCRM_ARI_APP": ari_config_from_env().app})
    crm = CrmSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/crm.sqlite3",
        recordings_dir=tmp_path / "recordings",
        password_scrypt_n=16,
    )
    app = build_app(settings, crm)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield Desk(str(server.make_url("/")).rstrip("/"), app)
    for agent in list(app[DIALER_KEY].agents.sessions):
        try:
            await app[DIALER_KEY].logout(agent)
        except Exception as exc:  # noqa: BLE001 - best-effort clean-up between tests
            print(f"logout {agent}: {exc}")
    await server.close()


@pytest.fixture
async def console(asterisk: Any, tmp_path: Path) -> AsyncIterator[Console]:
    settings = DialerSettings.load({"DIALCRM_DATA_DIR": str(tmp_path),
                                    "DIALCRM_ARI_APP": ari_config_from_env().app,
                                    "DIALCRM_ASR_START": "off"})
    crm = CrmSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/crm.sqlite3",
                      recordings_dir=tmp_path / "recordings", password_scrypt_n=16)
    app = build_app(settings, crm)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    console = Console(str(server.make_url("/")).rstrip("/"), app)
    yield console
    for campaign_id in list(console.dialer.runners):
        await console.dialer.stop_campaign(campaign_id)
    await server.close()
