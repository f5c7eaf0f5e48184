"""One navigation for every page, in Chromium (issue 13 item 9): the landing page links to the
login; the login lands each role on its page; the language switch on /login keeps ?next=;
managers reach the console and the wallboard from the desk, and back from the wallboard;
the nav's sign-out ends the session."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from crm.domain.enums import Role
from tests.helpers.console_page import PASSWORD, Console


async def _log_in(page, console: Console, username: str) -> None:
    await page.get_by_test_id("username").fill(username)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("login").click()


@pytest.mark.parametrize(("role", "landing"), [(Role.AGENT, "/agent"),
                                               (Role.MANAGER, "/console"),
                                               (Role.ADMIN, "/console")])
async def test_given_landing_page_when_role_logs_in_then_lands_on_its_page(
        browser: Browser, console: Console, role: Role, landing: str) -> None:
    await console.crm.auth.create_user(f"u-{role.value}", role, password=PASSWORD)
    page = await browser.new_page(locale="zh-CN")
    await page.goto(f"{console.url}/")
    await page.get_by_test_id("login-link").click()
    await page.wait_for_url("**/login")
    await _log_in(page, console, f"u-{role.value}")
    await page.wait_for_url(f"{console.url}{landing}")
    await expect(page.get_by_test_id("nav")).to_be_visible()


async def test_given_login_with_next_when_language_switched_then_next_kept(
        browser: Browser, console: Console) -> None:
    await console.crm.auth.create_user("boss", Role.MANAGER, password=PASSWORD)
    page = await browser.new_page(locale="zh-CN")
    await page.goto(f"{console.url}/console/reports")
    await page.wait_for_url("**/login?next=/console/reports")
    await page.get_by_test_id("lang-en").click()
    await page.wait_for_url("**/login?next=/console/reports&lang=en")
    await expect(page.get_by_test_id("login")).to_have_text("Sign in")
    await _log_in(page, console, "boss")
    await page.wait_for_url(f"{console.url}/console/reports")


@pytest.mark.parametrize("width", [1200, 360])
async def test_given_manager_on_desk_when_nav_used_then_console_wallboard_and_back(
        browser: Browser, console: Console, width: int) -> None:
    page = await console.page(browser, "boss", Role.MANAGER, locale="zh-CN", width=width)
    await page.goto(f"{console.url}/agent")
    nav = page.get_by_test_id("nav")
    await nav.get_by_test_id("nav-wallboard").click()
    await page.wait_for_url("**/wallboard")
    await expect(page.get_by_test_id("nav-wallboard")).to_have_attribute("aria-current", "page")
    await page.get_by_test_id("nav-console").click()
    await page.wait_for_url("**/console")
    await page.get_by_test_id("nav-desk").click()
    await page.wait_for_url("**/agent")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0


async def test_given_signed_in_when_nav_sign_out_then_session_ends(
        browser: Browser, console: Console) -> None:
    page = await console.page(browser, "agent1", Role.AGENT, locale="en-GB")
    await page.goto(f"{console.url}/agent")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")
    await page.get_by_test_id("sign-out").click()
    await page.wait_for_url("**/login")
    await page.goto(f"{console.url}/agent")
    await page.wait_for_url("**/login?next=/agent")


async def test_given_browser_when_page_opened_then_favicon_served(
        browser: Browser, console: Console) -> None:
    page = await browser.new_page()
    response = await page.goto(f"{console.url}/favicon.ico")
    assert response is not None and response.status == 200
