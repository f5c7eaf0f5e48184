"""The admin status page and ``/status`` on the real sandbox Asterisk: health per component,
Asterisk's version and uptime, a SIPp agent phone's registration (AMI), the CRM sync lanes,
interface response times, and a configuration reload from the page."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from crm.domain.enums import Role
from tests.helpers.console_page import Console
from web.dialer.api import PBX_KEY

PHONE = "1033"


async def test_given_registered_phone_when_admin_opens_status_page_then_live_asterisk_data(
    browser: Browser, console: Console, sipp_phone: Any,
) -> None:
    await sipp_phone(PHONE)
    page = await console.page(browser, "root", Role.ADMIN, width=390)
    response = await page.request.get(f"{console.url}/status")
    health = await response.json()
    assert response.status == 200, health
    assert set(health["components"]) >= {"ari", "ami", "database", "outbox", "recogniser"}
    assert all(c["ok"] for c in health["components"].values())

    await page.goto(f"{console.url}/admin?lang=en")
    for name in ("ari", "ami", "database", "outbox", "recogniser"):
        await expect(page.get_by_test_id(f"health-{name}")).to_have_attribute("data-state", "ok")
    overview = await console.app[PBX_KEY].overview()
    await expect(page.get_by_test_id("ast-version")).to_have_text(overview["version"])
    await expect(page.get_by_test_id("ast-uptime")).to_have_text(re.compile(r"\d+h \d+m \d+s"))
    phone = page.locator(f'[data-endpoint="{PHONE}"]')
    await expect(phone.get_by_test_id("contact-status")).to_have_text("Reachable")
    await expect(page.locator("#sync-rows tr")).not_to_have_count(0)
    await expect(page.get_by_test_id("latency")).to_contain_text("GET /admin")

    await page.get_by_test_id("reload-module").select_option("app_amd.so")
    await page.get_by_test_id("reload").click()
    await expect(page.get_by_test_id("reload-result")).to_contain_text("Reloaded")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
