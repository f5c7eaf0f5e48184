"""The landing page in a real browser: live health from Asterisk for a signed-in admin, in
Chinese and English; nothing internal for anyone else (issue 17)."""

from __future__ import annotations

from playwright.async_api import Browser

from crm.domain.enums import Role
from tests.helpers.console_page import Console


async def test_given_app_on_sandbox_when_admin_opens_page_then_status_shows_asterisk_in_chinese(
    browser: Browser, console: Console
) -> None:
    page = await console.page(browser, "root", Role.ADMIN, locale="zh-CN")
    await page.goto(f"{console.url}/")

    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    assert "系统状态" in await page.locator("h2").inner_text()
    assert "Asterisk 版本" in await page.locator("#status").inner_text()
    assert (await page.get_by_test_id("ari-state").inner_text()).startswith("已连接")
    assert "22." in await page.get_by_test_id("asterisk-version").inner_text()


async def test_given_page_when_switched_to_english_then_choice_sticks(
    browser: Browser, console: Console
) -> None:
    page = await console.page(browser, "root", Role.ADMIN, locale="zh-CN", width=375)
    await page.goto(f"{console.url}/")
    await page.get_by_role("link", name="English").click()
    await page.wait_for_url("**lang=en")
    assert "System status" in await page.locator("h2").inner_text()

    await page.goto(f"{console.url}/")  # no ?lang: the cookie remembers

    assert (await page.get_by_test_id("ami-state").inner_text()).strip() == "connected"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page overflows a phone screen: {width}px"


async def test_given_anonymous_visitor_when_page_opened_then_no_internals(
    browser: Browser, app_url: str
) -> None:
    page = await browser.new_page(locale="en-US")
    await page.goto(app_url)
    text = await page.locator("main").inner_text()
    assert "Asterisk" not in text and "22." not in text
    assert await page.get_by_test_id("asterisk-version").count() == 0
    await page.get_by_test_id("login-link").click()
    await page.wait_for_url("**/login")
