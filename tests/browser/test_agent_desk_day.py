"""A first day on the agent page (issue 13 item 9), in Chromium, zh and en, desktop and phone:
the pop fetches no transcript it may not read, the customer's notes come back, tasks name their
customer and are opened and completed on the page, the callbacks the agent set are listed
(overdue marked), the wrap-up sits under the agent's state with a countdown and keeps its
errors beside it, successes are green, and no raw code shows in Chinese. The pushes are driven
in-process (no Asterisk needed)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

import web as pages
from crm.app import create_crm_app, crm_service_of
from crm.db.models_ops import Disposition
from crm.domain.enums import AttemptOutcome, Role
from crm.http.routing import SESSION_COOKIE
from crm.pops import POP_HUB, install_pops
from crm.service import CrmService
from crm.services.customers import CustomerInput
from crm.services.work import TaskInput
from crm.settings import CrmSettings
from web.agent.pages import add_agent_pages

pytestmark = pytest.mark.browser
AGENT, PASSWORD = "agent1031", "agent-pass-1"


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


async def _desk(browser: Browser, url: str, crm: CrmService, lang: str, width: int = 1200
                ) -> Page:
    session_id, _ = await crm.auth.login(AGENT, PASSWORD)
    context = await browser.new_context(viewport={"width": width, "height": 900})
    await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id, "url": url}])
    page = await context.new_page()
    await page.goto(f"{url}/agent?lang={lang}")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")
    return page


async def _callback_of(crm: CrmService, agent_id: object, name: str, phone: str,
                       due: datetime) -> None:
    campaign = await crm.campaigns.create({"name": f"回访 {phone}", "window_start": "00:00",
                                           "window_end": "23:59"})
    async for _ in crm.import_leads(campaign.id, [{"name": name, "phone": phone}]):
        pass
    lead = (await crm.claim_leads(campaign.id, "w", 1))[0]
    await crm.ingest_call_event({"event_id": f"b-{phone}", "call_id": f"c-{phone}",
                                 "type": "bridged", "agent_id": AGENT,
                                 "customer_id": str(lead.customer_id),
                                 "campaign_id": str(campaign.id), "lead_id": str(lead.id)})
    await crm.record_attempt(lead.id, AttemptOutcome.ANSWERED, worker="w",
                             call_id=f"c-{phone}", disposition="callback", callback_at=due)


@pytest.mark.parametrize(("lang", "width"), [("zh", 1200), ("zh", 360), ("en", 1200),
                                             ("en", 360)])
async def test_given_first_day_when_agent_works_the_desk_then_work_is_one_click_away(
        browser: Browser, crm_app: tuple[str, web.Application], lang: str, width: int) -> None:
    url, app = crm_app
    crm = crm_service_of(app)
    agent = await crm.auth.create_user(AGENT, Role.AGENT, password=PASSWORD)
    customers = {}
    for name, phone in (("王伟", "13800138021"), ("李娜", "13800138022")):
        customers[name], _ = await crm.customers.create(CustomerInput(name=name, phones=[phone]))
        await crm.work.create_task(TaskInput(title="24小时内发送报价", owner_id=agent.id,
                                             customer_id=customers[name].id))
    await crm.work.add_note(customers["王伟"].id, "上次说月底再谈")
    now = datetime.now(UTC)
    await _callback_of(crm, agent.id, "张敏", "13800138023", now - timedelta(minutes=5))
    await _callback_of(crm, agent.id, "赵磊", "13800138024", now + timedelta(days=1))
    page = await _desk(browser, url, crm, lang, width)
    transcript_reads: list[int] = []
    page.on("response", lambda r: transcript_reads.append(r.status)
            if "/transcript" in r.url else None)

    # tasks: the customer's name on each, opened in place, completed with one click
    tasks = page.get_by_test_id("task")
    await expect(tasks).to_have_count(2)
    await expect(page.get_by_test_id("tasks")).to_contain_text("王伟")
    await expect(page.get_by_test_id("tasks")).to_contain_text("李娜")
    first = tasks.first
    await first.locator("summary").click()
    await first.get_by_test_id("task-complete").click()
    await expect(tasks).to_have_count(1)
    msg = page.get_by_test_id("msg")
    await expect(msg).to_have_text("任务已完成" if lang == "zh" else "Task completed")
    assert await msg.evaluate("n => getComputedStyle(n).color") == "rgb(5, 96, 58)"  # green
    await expect(page.get_by_test_id("error")).to_have_text("")
    done = await crm.work.list_tasks(owner_id=agent.id)
    assert sorted(t.status for t in done.items) == ["done", "open"]

    # callbacks: soonest first, the overdue one marked
    callbacks = page.get_by_test_id("callback")
    await expect(callbacks).to_have_count(2)
    await expect(callbacks.first).to_contain_text("张敏")
    await expect(callbacks.first.get_by_test_id("callback-overdue")).to_have_text(
        "已逾期" if lang == "zh" else "overdue")
    await expect(callbacks.nth(1).get_by_test_id("callback-overdue")).to_have_count(0)

    # a new pop: no transcript read (nothing said yet; the call may not be in the CRM yet)
    app[POP_HUB].deliver(AGENT, {
        "type": "pop", "call_id": "call-day", "state": "connected", "number": "+8613800138021",
        "lead_id": "l1", "campaign_id": "c1", "ts": time.time() + 1,
        "customer": {"customer_id": str(customers["王伟"].id), "name": "王伟",
                     "numbers": [{"e164": "+8613800138021", "type": "mobile"}],
                     "recent_contacts": [{"at": "2026-03-01T03:00:00Z", "state": "bridged",
                                          "outcome": None}],
                     "recent_notes": [{"body": "上次说月底再谈", "at": "2026-03-01T03:00:00Z"}],
                     "tags": [], "open_tasks": []}})
    await expect(page.get_by_test_id("pop-name")).to_have_text("王伟")
    await expect(page.get_by_test_id("pop-notes")).to_contain_text("上次说月底再谈")
    if lang == "zh":
        await expect(page.get_by_test_id("pop-numbers")).to_contain_text("手机")
        await expect(page.get_by_test_id("pop-contacts")).to_contain_text("已接通坐席")
    # the note saved during the call shows at once (and is in the customer's record)
    await page.get_by_test_id("note").fill("客户要求周五上午回电")
    await page.get_by_test_id("save-note").click()
    await expect(page.get_by_test_id("note-msg")).to_have_text(
        "备注已保存" if lang == "zh" else "Note saved")
    await expect(page.get_by_test_id("pop-note").first).to_contain_text("客户要求周五上午回电")
    await expect(page.get_by_test_id("error")).to_have_text("")

    # transcript lines in time order; the agent's own lines carry no concept chips
    hub = app[POP_HUB]
    for seg in ({"segment_id": "s2", "speaker": "customer", "start_s": 6.0, "end_s": 8.0,
                 "text": "太贵了，下周再打给我", "concepts": ["too_expensive", "callback_request"]},
                {"segment_id": "s1", "speaker": "agent", "start_s": 1.0, "end_s": 4.0,
                 "text": "您好，我回电给您", "concepts": ["callback_request"]}):
        hub.deliver(AGENT, {"type": "transcript", "call_id": "call-day", **seg})
    lines = page.get_by_test_id("transcript-line")
    await expect(lines).to_have_count(2)
    await expect(lines.nth(0)).to_contain_text("您好")
    assert await lines.nth(0).locator(".chip").count() == 0
    await expect(lines.nth(1).locator(".chip")).to_have_count(2)
    hub.deliver(AGENT, {"type": "suggestion", "call_id": "call-day", "script": "discount_offer",
                        "message": {"zh": "可提供首单九折", "en": "Offer 10 % off"}})
    await expect(page.get_by_test_id("suggestion-script")).not_to_contain_text("discount_offer")

    # wrap-up: under the agent's state, counting down the campaign's limit
    hub.deliver(AGENT, {"type": "agent_state", "state": "wrap_up", "previous": "on_call",
                        "since": time.time(), "until": time.time() + 90, "call_id": "call-day",
                        "campaign_id": "c1"})
    wrap = page.get_by_test_id("wrapup")
    await expect(wrap).to_be_visible()
    await expect(page.get_by_test_id("wrapup-countdown")).to_contain_text(
        "剩余 01:" if lang == "zh" else "01:")
    wrap_top = (await wrap.bounding_box() or {}).get("y", 1e9)
    pop_top = (await page.get_by_test_id("pop").bounding_box() or {}).get("y", 0)
    assert wrap_top < pop_top, "the wrap-up form is above the pop, under the agent's state"
    # a callback without a time: the browser asks for it; nothing is sent
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if "/disposition" in r.url else None)
    await page.get_by_test_id("disposition").select_option("callback")
    await page.get_by_test_id("submit-disposition").click()
    assert await page.get_by_test_id("callback-at").evaluate("n => !n.checkValidity()")
    assert posts == []

    assert all(status < 400 for status in transcript_reads), transcript_reads
    if lang == "zh":  # no raw English codes on the Chinese page
        text = await page.locator("main").inner_text()
        for code in ("bridged", "originated", "mobile", "discount_offer", "callback_request",
                     "too_expensive", "callback_at"):
            assert code not in text, code
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_given_campaign_codes_when_wrap_up_then_keys_choose_them(
        browser: Browser, crm_app: tuple[str, web.Application], lang: str) -> None:
    """Issue 13 item 7: the wrap-up offers the campaign's codes from the CRM's table, each with
    its key; the key chooses it; a callback-category code asks for the time."""
    url, app = crm_app
    crm = crm_service_of(app)
    await crm.auth.create_user(AGENT, Role.AGENT, password=PASSWORD)
    await crm.reference.seed_dispositions()
    campaign = await crm.campaigns.create({"name": "催收"})
    for code, zh, en, category, key in (("promise_to_pay", "承诺还款", "Promise to pay",
                                         "success", "p"),
                                        ("call_friday", "周五回电", "Call on Friday",
                                         "callback", "f")):
        await crm.reference.add_disposition(Disposition(
            code=code, label_zh=zh, label_en=en, category=category, campaign_id=campaign.id,
            shortcut=key, sort_order=1))
    page = await _desk(browser, url, crm, lang)
    app[POP_HUB].deliver(AGENT, {"type": "agent_state", "state": "wrap_up",
                                 "previous": "on_call", "since": time.time(),
                                 "until": time.time() + 60, "call_id": "c-x",
                                 "campaign_id": str(campaign.id)})
    select = page.get_by_test_id("disposition")
    await expect(select.locator("option[value=promise_to_pay]")).to_have_text(
        "承诺还款 [p]" if lang == "zh" else "Promise to pay [p]")
    await expect(select.locator("option[value=sale]")).to_have_count(1)

    await page.keyboard.press("p")
    await expect(select).to_have_value("promise_to_pay")
    await expect(page.get_by_test_id("callback-at")).to_be_hidden()
    await page.keyboard.press("f")
    await expect(select).to_have_value("call_friday")
    await expect(page.get_by_test_id("callback-at")).to_be_visible()
    assert await page.get_by_test_id("callback-at").evaluate("n => n.required")
    await page.get_by_test_id("wrapup-note").fill("p")  # typing in a field is not a key
    await expect(select).to_have_value("call_friday")
