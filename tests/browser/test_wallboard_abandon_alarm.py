"""The abandon alarm on the live wallboard, in headless Chromium (issue 18 item 1, seen).

The app is wired like ``build_app`` on a dialer with telephony fakes: a predictive campaign
over-dials on purpose (brake off), its only agent walks away, four customers answer at once and
are abandoned. An open wallboard must show the alarm with its reason, the campaign switched to
progressive and its abandon rate marked over target, without a reload (the manager's
to-do: tests/unit/test_dialer_abandon_brake.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from ari_app.dialer.model import CampaignConfig, DialMode
from crm.db.models_ops import User
from crm.http.routing import SESSION_COOKIE
from tests.helpers.dialer_fakes import customer_answers, until
from tests.helpers.web_apps import PASSWORD, Rig, fake_app


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Rig, str]]:
    async with fake_app(tmp_path) as rig:
        server = TestServer(rig.app, host="127.0.0.1")
        await server.start_server()
        yield rig, str(server.make_url("/")).rstrip("/")
        await server.close()


async def test_given_open_wallboard_when_abandons_burst_then_abandon_alarm_shown_live(
    browser: Browser, served: tuple[Rig, str],
) -> None:
    rig, base = served
    async with rig.crm.engine.connect() as conn:
        boss_id = await conn.scalar(sa.select(User.id).where(User.username == "boss"))
    campaign = await rig.crm.campaigns.create({  # callable at any hour the test runs
        "name": "Spring", "manager_id": boss_id, "window_start": "00:00", "window_end": "23:59"})
    campaign_id = str(campaign.id)
    rows = [{"phone": f"+86139000001{i:02d}", "name": f"客户 {i}"} for i in range(6)]
    async for _ in rig.crm.import_leads(campaign.id, rows):
        pass
    session_id, _ = await rig.crm.auth.login("boss", PASSWORD)
    context = await browser.new_context(viewport={"width": 1024, "height": 900})
    await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id, "url": base}])
    page = await context.new_page()
    reloads: list[str] = []
    await page.goto(f"{base}/wallboard?lang=en")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")
    page.on("framenavigated", lambda frame: reloads.append(frame.url))

    await rig.dialer.start_campaign(CampaignConfig(
        campaign_id, name="Spring", mode=DialMode.PREDICTIVE, pacing="ratio",
        dial_ratio=4.0, abandon_after_s=0.5, abandon_brake=False))  # over-dial on purpose
    await rig.dialer.login("agent1", "1001", campaign_id)
    control = rig.control

    def customers() -> list[str]:
        return [args[1] for args in control.verbs("originate") if args[2] == "customer"]

    await until(lambda: len(customers()) == 4, timeout=10)
    await rig.dialer.pause("agent1", "break")  # the only agent walks away
    for call_id in customers():
        await customer_answers(control, call_id)

    card = page.locator(f'[data-campaign="{campaign_id}"]')
    alarm = page.get_by_test_id("alarm")
    await expect(alarm).to_contain_text("abandon_rate", timeout=15_000)
    await expect(alarm).to_contain_text("abandoned of")
    await expect(card).to_have_attribute("data-alarm", "on")
    await expect(card.locator("h3")).to_contain_text("(progressive)")  # predictive paused
    await expect(page.get_by_test_id("abandon-rate")).to_have_class("bad")
    assert rig.dialer.configs[campaign_id].mode is DialMode.PROGRESSIVE
    assert reloads == []  # pushed over the socket, never a reload
