"""The wallboard in headless Chromium during a real campaign on the sandbox Asterisk: a SIPp agent
phone, a sim-pstn customer who answers and talks, the progressive dialer; the board follows the
agent from ready to on call to wrap-up, counts the connected call, and shows the answer rate,
dials per connect, occupancy and the regulatory-window abandon rate, pushed over the socket."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from ari_app.dialer.model import CampaignConfig, DialMode
from crm.domain.enums import Role
from crm.http.routing import SESSION_COOKIE
from tests.helpers.agent_desk import CUSTOMER_NUMBER, PASSWORD, Desk

EXTENSION = "1049"


async def test_given_running_campaign_when_agent_takes_a_call_then_wallboard_follows_live(
    browser: Browser, desk: Desk, sipp_phone: Any
) -> None:
    await sipp_phone(EXTENSION)
    agent = f"agent{EXTENSION}"
    await desk.agent(agent)
    await desk.crm.auth.create_user("board-boss", Role.MANAGER, password=PASSWORD)
    campaign_id = await desk.campaign("大屏实时测试", [CUSTOMER_NUMBER])
    session_id, _ = await desk.crm.auth.login("board-boss", PASSWORD)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id, "url": desk.url}])
    page = await context.new_page()
    await page.goto(f"{desk.url}/wallboard?lang=en")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")

    await desk.dialer.login(agent, EXTENSION, campaign_id)  # the phone rings, SIPp answers
    row = page.locator(f'[data-agent="{agent}"]')
    await expect(row.get_by_test_id("agent-state")).to_have_attribute(
        "data-state", "ready", timeout=20_000)
    await expect(page.get_by_test_id("count-ready")).to_have_text("1")

    await desk.dialer.start_campaign(CampaignConfig(
        campaign_id, name="board", mode=DialMode.PROGRESSIVE, ring_timeout_s=15,
        wrap_up_limit_s=60))

    await expect(row.get_by_test_id("agent-state")).to_have_attribute(
        "data-state", "on_call", timeout=30_000)
    await expect(page.get_by_test_id("calls-connected")).to_have_text("1", timeout=10_000)
    await expect(page.get_by_test_id("count-on_call")).to_have_text("1")
    await expect(page.get_by_test_id("answer-rate")).to_have_text("100.0%")
    await expect(page.get_by_test_id("dials-per-connect")).to_have_text("1")
    await expect(page.get_by_test_id("occupancy")).not_to_have_text("—")
    # the campaign's abandon rate over its regulatory window (CRM records) against its target
    await expect(page.get_by_test_id("regulatory-rate")).to_contain_text("3.0%", timeout=10_000)
    # the customer talks ~15 s, then hangs up: the agent goes to wrap-up, no call is left
    await expect(row.get_by_test_id("agent-state")).to_have_attribute(
        "data-state", "wrap_up", timeout=60_000)
    await expect(page.get_by_test_id("calls-connected")).to_have_text("0")
    occupancy = float((await page.get_by_test_id("occupancy").inner_text()).rstrip("%"))
    assert 20.0 <= occupancy <= 100.0, occupancy  # mostly on the call since the login
    await context.close()
