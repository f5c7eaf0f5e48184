"""The agent page's manual-dial control (issue 13 item 2) in headless Chromium on the sandbox:
a paused agent types a number; a DNC number is refused with the reason in Chinese; a customer's
number rings the customer through the campaign, pops on the page and connects to the agent's
SIPp phone."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from ari_app.dialer.model import CampaignConfig, DialMode
from crm.services.customers import CustomerInput
from tests.helpers.agent_desk import Desk, sign_in

HUMAN = "+8613800147000"  # sim-pstn: answers after 1 s, talks 5 s
ON_DNC = "+8613800147100"


async def test_given_paused_agent_on_page_when_manual_dial_then_dnc_refused_and_call_pops(
    browser: Browser, desk: Desk, sipp_phone: Any
) -> None:
    await sipp_phone("1048")
    await desk.agent("agent1048", "1048")
    campaign_id = await desk.campaign("手动拨号测试", [], ["agent1048"])
    await desk.crm.customers.create(CustomerInput(name="刘洋", phones=[HUMAN]))
    await desk.crm.customers.create(CustomerInput(name="勿扰", phones=[ON_DNC]))
    await desk.crm.dnc.add(ON_DNC, reason="asked")
    await desk.dialer.start_campaign(CampaignConfig(campaign_id, name="m", mode=DialMode.PREVIEW))
    page = await browser.new_page(locale="zh-CN")
    await sign_in(page, desk, "agent1048")
    state = page.get_by_test_id("agent-state")
    await page.get_by_test_id("extension").fill("1048")
    await page.get_by_test_id("campaign").select_option(campaign_id)
    await page.get_by_test_id("dialer-login").click()
    await expect(state).to_have_attribute("data-state", "ready", timeout=15_000)
    await page.get_by_test_id("pause-code").select_option("break")
    await page.get_by_test_id("pause").click()
    await expect(state).to_have_attribute("data-state", "paused")

    status = page.get_by_test_id("manual-dial-status")
    await page.get_by_test_id("manual-dial-number").fill(ON_DNC)
    await page.get_by_test_id("manual-dial-go").click()
    await expect(status).to_contain_text("免打扰")
    assert "error" in (await status.get_attribute("class") or "")
    assert not desk.dialer.calls.calls, "a refused manual dial placed a call"

    await page.get_by_test_id("manual-dial-number").fill(HUMAN)
    await page.get_by_test_id("manual-dial-go").click()
    await expect(status).to_contain_text(f"正在呼叫 {HUMAN}")
    await expect(page.get_by_test_id("pop-name")).to_have_text("刘洋", timeout=10_000)
    await expect(state).to_have_attribute("data-state", "on_call", timeout=15_000)
    await page.close()
