"""The conversion route on the agent page (sandbox Asterisk, SIPp phone 1045, Chromium): a
manager marks the agent senior and a customer senior-route; the agent logs in on the page, the
dialer reserves the senior lead for them and the pop shows the route, in zh and en."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from ari_app.dialer.model import CampaignConfig, DialMode
from tests.helpers.agent_desk import Desk, sign_in

NUMBER = "+8613800138090"  # a human: answers after 1 s, talks ~15 s


@pytest.mark.parametrize(("locale", "lang", "label", "overridden"), [
    ("zh-CN", "", "高转化意向 · 资深坐席", "经理已调整"),
    ("en-GB", "?lang=en", "High propensity · senior agents", "set by a manager")])
async def test_given_senior_route_customer_when_dialed_for_senior_agent_then_pop_shows_route(
    browser: Browser, desk: Desk, sipp_phone: Any, locale: str, lang: str, label: str,
    overridden: str,
) -> None:
    await sipp_phone("1045")
    await desk.agent("agent1045", "1045")
    await desk.crm.agent_skills.set("agent1045", "senior", None)
    campaign_id = await desk.campaign(f"route-{locale}", [NUMBER], ["agent1045"])
    (lead,) = await desk.crm.next_eligible_leads(uuid.UUID(campaign_id), 1)
    await desk.crm.conversion.override(lead.customer_id, "senior", "VIP renewal", None)
    page = await browser.new_page(locale=locale)
    await sign_in(page, desk, "agent1045")
    if lang:
        await page.goto(f"{desk.url}/agent{lang}")
    await page.get_by_test_id("extension").fill("1045")
    await page.get_by_test_id("campaign").select_option(campaign_id)
    await page.get_by_test_id("dialer-login").click()
    state = page.get_by_test_id("agent-state")
    await expect(state).to_have_attribute("data-state", "ready", timeout=15_000)
    assert desk.dialer.agents.sessions["agent1045"].senior  # from the CRM at login
    await desk.dialer.start_campaign(CampaignConfig(campaign_id, name="t",
                                                    mode=DialMode.PROGRESSIVE))
    route = page.get_by_test_id("pop-route")
    await expect(route).to_be_visible(timeout=15_000)
    await expect(route).to_contain_text(label)
    await expect(route).to_contain_text(overridden)
    await expect(route).to_have_attribute("title", "set by a manager: VIP renewal")
    link = page.get_by_test_id("pop-customer-link")  # the pop links to the customer 360
    await expect(link).to_have_attribute("href", f"/customers/{lead.customer_id}")
