"""The agent page shows a pushed transcript line, the live suggestion and the task a rule made,
in English and in Chinese (headless Chromium; the push driven through the CRM service in-process,
no Asterisk needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

import web as pages
from crm.app import create_crm_app, crm_service_of
from crm.domain.enums import Role
from crm.pops import POP_HUB, install_pops
from crm.service import CrmService
from crm.settings import CrmSettings
from web.agent.pages import add_agent_pages

AGENT, PASSWORD = "agent1005", "agent-pass-1"


@pytest.fixture
async def crm_app(tmp_path: Path) -> AsyncIterator[tuple[str, web.Application]]:
    settings = CrmSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/crm.sqlite3",
                           recordings_dir=tmp_path / "recordings", password_scrypt_n=16)
    app = create_crm_app(settings)
    install_pops(app)
    add_agent_pages(app)
    app.router.add_static("/static", pages.STATIC_DIR)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/")).rstrip("/"), app
    await server.close()


async def _signed_in(browser: Browser, url: str, lang: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{url}/agent?lang={lang}")
    await page.wait_for_url("**/login?next=/agent")
    await page.get_by_test_id("username").fill(AGENT)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("login").click()
    await page.wait_for_url(f"{url}/agent")
    await page.goto(f"{url}/agent?lang={lang}")  # the login page sends us to plain /agent
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")
    return page


@pytest.mark.browser
async def test_given_agent_on_call_when_customer_objects_then_page_shows_line_and_suggestion(
    browser: Browser, crm_app: tuple[str, web.Application]
) -> None:
    url, app = crm_app
    crm: CrmService = crm_service_of(app)
    await crm.auth.create_user(AGENT, Role.AGENT, password=PASSWORD)
    await crm.ingest_call_event({"event_id": "b1", "call_id": "call-ui", "type": "bridged",
                                 "agent_id": AGENT})
    en = await _signed_in(browser, url, "en")
    zh = await _signed_in(browser, url, "zh")

    await crm.add_transcript_segment("call-ui", {
        "segment_id": "s1", "speaker": "customer", "start_s": 4.0, "end_s": 9.5,
        "text": "The price is too expensive for us. Please call me next week.",
        "confidence": 0.82, "language": "en"})

    line = en.get_by_test_id("transcript-line")
    await expect(line).to_have_count(1)
    await expect(line).to_contain_text("Customer")
    await expect(line).to_contain_text("The price is too expensive for us.")
    await expect(line).to_contain_text("too expensive")  # the concept, said in the page's words
    await expect(en.get_by_test_id("suggestion-script")).to_contain_text(
        "Price objection: offer the 10 % first-order discount")
    await expect(en.get_by_test_id("suggestion-script")).not_to_contain_text("discount_offer")
    await expect(en.get_by_test_id("suggestion-task").first).to_contain_text("Task created")
    await expect(en.get_by_test_id("tasks")).to_contain_text("按约定回电")

    await expect(zh.get_by_test_id("transcript-line")).to_contain_text("客户")
    await expect(zh.get_by_test_id("transcript-line")).to_contain_text("嫌贵")
    await expect(zh.get_by_test_id("transcript-line")).not_to_contain_text("too_expensive")
    await expect(zh.get_by_test_id("suggestion-script")).to_contain_text(
        "客户嫌贵：可提供首单九折优惠")
    await expect(zh.get_by_test_id("suggestion-task").first).to_contain_text("已创建任务")

    # a gap in the audio is shown as such; an agent line keeps its time order
    await crm.add_transcript_segment("call-ui", {
        "segment_id": "g1", "speaker": "customer", "start_s": 10, "end_s": 14, "gap": True,
        "reason": "recogniser_unavailable"})
    await crm.add_transcript_segment("call-ui", {
        "segment_id": "a1", "speaker": "agent", "start_s": 1.0, "end_s": 3.0,
        "text": "Hello, this is Li from Acme."})
    lines = en.get_by_test_id("transcript-line")
    await expect(lines).to_have_count(3)
    await expect(lines.nth(0)).to_contain_text("Agent")
    await expect(lines.nth(2)).to_contain_text("audio gap: speech recognition unavailable")

    # a reload mid-call: the hub replays the call's pop, the page backfills the transcript
    app[POP_HUB].deliver(AGENT, {"type": "pop", "call_id": "call-ui", "state": "connected",
                                 "number": "+8613800138000", "customer": {"name": "王伟"},
                                 "ts": 0})
    await en.reload()
    await expect(en.get_by_test_id("conn")).to_have_attribute("data-state", "live")
    await expect(en.get_by_test_id("pop-name")).to_have_text("王伟")
    await expect(en.get_by_test_id("transcript-line")).to_have_count(3)
    await crm.add_transcript_segment("call-ui", {
        "segment_id": "s2", "speaker": "customer", "start_s": 20, "end_s": 22,
        "text": "Thanks, bye."})
    await expect(en.get_by_test_id("transcript-line")).to_have_count(4)
    await expect(en.get_by_test_id("transcript-line").nth(3)).to_contain_text("Thanks, bye.")
