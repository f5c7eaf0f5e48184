"""The managers' wallboard in headless Chromium, updating live as agents change state.

The app is built with fakes (no Asterisk): the dialer's own state changes publish on the bus,
the wallboard pushes them over ``/ws/wallboard``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from ari_app.dialer.model import CampaignConfig
from crm.http.routing import SESSION_COOKIE
from tests.helpers.web_apps import PASSWORD, Rig, fake_app


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Rig, str]]:
    async with fake_app(tmp_path) as rig:
        server = TestServer(rig.app, host="127.0.0.1")
        await server.start_server()
        yield rig, str(server.make_url("/")).rstrip("/")
        await server.close()


async def manager_page(browser: Browser, rig: Rig, base: str, width: int) -> Page:
    session_id, _ = await rig.crm.auth.login("boss", PASSWORD)
    context = await browser.new_context(viewport={"width": width, "height": 800})
    await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id, "url": base}])
    return await context.new_page()


async def test_given_manager_on_phone_when_agent_changes_state_then_board_updates_live(
    browser: Browser, served: tuple[Rig, str],
) -> None:
    rig, base = served
    rig.dialer.run_campaign(CampaignConfig(rig.campaign_id, name="Spring"))
    page = await manager_page(browser, rig, base, width=360)
    await page.goto(f"{base}/wallboard?lang=en")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")

    await rig.dialer.login("agent1", "1001", rig.campaign_id)
    await expect(page.get_by_test_id("count-ready")).to_have_text("1")
    row = page.locator('[data-agent="agent1"]')
    await expect(row.get_by_test_id("agent-state")).to_have_attribute("data-state", "ready")

    await rig.dialer.pause("agent1", "lunch")
    await expect(row.get_by_test_id("agent-state")).to_have_attribute("data-state", "paused")
    await expect(page.get_by_test_id("count-ready")).to_have_text("0")
    await expect(page.get_by_test_id("alarm")).to_contain_text("hopper_empty")
    await expect(page.locator(".campaign svg.chart")).to_be_visible()

    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
