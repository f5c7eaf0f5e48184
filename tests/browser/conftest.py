"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, and the app served."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, async_playwright

from ari_app.main import build_app
from ari_app.settings import DialerSettings

CHROMIUM = os.environ.get("DIALCRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
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
async def app_url(asterisk) -> AsyncIterator[str]:
    """The whole app (controller + pages) on a free loopback port, on the real Asterisk."""
    server = TestServer(build_app(DialerSettings.load()), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/"))
    await server.close()
