"""The landing page in a real browser: live health from Asterisk, Chinese and English."""

from __future__ import annotations

from playwright.async_api import Browser


async def test_given_app_on_sandbox_when_page_opened_then_status_shows_asterisk_in_chinese(
    browser: Browser, app_url: str
) -> None:
    page = await browser.new_page(locale="zh-CN")
    await page.goto(app_url)

    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    assert "系统状态" in await page.locator("h2").inner_text()
    assert "Asterisk 版本" in await page.locator("#status").inner_text()
    assert (await page.get_by_test_id("ari-state").inner_text()).startswith("已连接")
    assert "22." in await page.get_by_test_id("asterisk-version").inner_text()


async def test_given_page_when_switched_to_english_then_choice_sticks(
    browser: Browser, app_url: str
) -> None:
    page = await browser.new_page(locale="zh-CN", viewport={"width": 375, "height": 700})
    await page.goto(app_url)
    await page.get_by_role("link", name="English").click()
    await page.wait_for_url("**lang=en")
    assert "System status" in await page.locator("h2").inner_text()

    await page.goto(app_url)  # no ?lang: the cookie remembers

    assert (await page.get_by_test_id("ami-state").inner_text()).strip() == "connected"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page overflows a phone screen: {width}px"
