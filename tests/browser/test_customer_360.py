"""The customer 360 in a real browser (issue 13 item 1): a manager searches, opens the customer,
plays a call's recording through its signed URL, reads the transcript and the rules that fired,
then merges a duplicate (preview, merge, audit); an agent of another campaign gets a 404 page;
the zh page shows no raw English codes. (CRM and pages only: no Asterisk needed.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page, expect

import web as pages
from crm.app import create_crm_app
from tests.helpers.customer_world import customer_world
from web.customers.pages import add_customer_pages

PASSWORD = "password-1"


@pytest.fixture
async def site(crm_settings: Any, crm_service: Any, crm_actors: Any
               ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    app = create_crm_app(crm_settings, service=crm_service)
    add_customer_pages(app)
    app.router.add_static("/static", pages.STATIC_DIR)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    world = await customer_world(client, crm_service, crm_actors)
    duplicate = await client.post("/api/customers", headers=crm_actors["manager"].headers,
                                  json={"name": "张三 (重复)", "phones": ["15912345678"]})
    assert duplicate.status == 201
    world["duplicate_id"] = (await duplicate.json())["customer"]["id"]
    yield str(client.make_url("")).rstrip("/"), world
    await client.close()


async def signed_in(browser: Browser, base: str, username: str, lang: str = "en",
                    width: int = 1200) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    await context.add_cookies([{"name": "lang", "value": lang, "url": base}])
    page = await context.new_page()
    await page.goto(f"{base}/api/openapi.json")
    status = await page.evaluate(
        """async ([u, p]) => (await fetch('/api/auth/login', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({username: u, password: p})})).status""", [username, PASSWORD])
    assert status == 200
    return page


async def test_given_manager_when_search_open_play_and_merge_then_customer_360_works(
        browser: Browser, site: tuple[str, dict[str, Any]]) -> None:
    base, world = site
    page = await signed_in(browser, base, "manager")
    await page.goto(f"{base}/customers")
    await page.get_by_test_id("search-q").fill("0013")  # a part of the number
    await page.get_by_test_id("search-submit").click()
    results = page.get_by_test_id("result-link")
    await expect(results).to_have_count(1)
    await expect(results).to_have_text("张三丰")
    await results.click()
    await page.wait_for_url(f"**/customers/{world['customer_id']}")
    await expect(page.get_by_test_id("dnc")).to_have_text("Do not call (all campaigns)")
    await expect(page.get_by_test_id("lead")).to_contain_text("春季 Spring")
    call = page.get_by_test_id("call")
    await expect(call).to_have_count(1)
    await expect(call).to_contain_text("agent")
    await expect(call.get_by_test_id("rules")).to_contain_text("supervisor's to-do")
    await expect(call.get_by_test_id("analysis")).to_contain_text("Intent")
    # the recording plays through its signed URL
    await call.get_by_test_id("play").click()
    player = call.get_by_test_id("player")
    await expect(player).to_have_count(1)
    duration = await player.evaluate("""(audio) => new Promise((resolve) => {
        if (audio.readyState >= 1) return resolve(audio.duration);
        audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
        audio.addEventListener('error', () => resolve(-1));
    })""")
    assert duration == pytest.approx(1.0, abs=0.1)
    await call.get_by_test_id("show-transcript").click()
    await expect(call.get_by_test_id("segment")).to_contain_text("Customer")
    # merge the duplicate: the preview says what moves, then the merge is audited
    await page.get_by_test_id("merge-q").fill("15912345678")
    await page.get_by_test_id("merge-find").click()
    await page.get_by_test_id("merge-pick").click()
    await expect(page.get_by_test_id("merge-moves")).to_contain_text("numbers 1")
    await page.get_by_test_id("merge-go").click()
    await expect(page.get_by_test_id("merge")).to_contain_text("张三 (重复)")
    await expect(page.get_by_test_id("merge")).to_contain_text("merged by manager")
    await expect(page.get_by_test_id("number")).to_have_count(2)
    # the merged-away customer's page leads to the survivor
    await page.goto(f"{base}/customers/{world['duplicate_id']}")
    await page.wait_for_url(f"**/customers/{world['customer_id']}?merged_from=*")
    await expect(page.get_by_test_id("merged-from")).to_be_visible()


async def test_given_agent_when_tasks_and_notes_then_created_completed_in_zh_without_codes(
        browser: Browser, site: tuple[str, dict[str, Any]]) -> None:
    base, world = site
    page = await signed_in(browser, base, "agent", lang="zh", width=360)
    await page.goto(f"{base}/customers/{world['customer_id']}")
    await expect(page.get_by_test_id("call")).to_have_count(1)
    await page.get_by_test_id("task-title").fill("周五回电")
    await page.get_by_test_id("task-due").fill("2030-01-04T15:00")
    await page.get_by_test_id("task-create").click()
    task = page.get_by_test_id("task").filter(has_text="周五回电")
    await expect(task).to_have_count(1)
    await task.get_by_test_id("task-new-due").fill("2030-01-05T10:00")
    await task.get_by_test_id("task-set-due").click()
    await expect(page.get_by_test_id("flash")).to_have_text("截止时间已更改")
    await expect(task).to_contain_text("2030/1/5")
    await task.get_by_test_id("task-complete").click()
    await expect(task).to_have_count(0)
    await page.get_by_test_id("note-body").fill("客户要报价")
    await page.get_by_test_id("note-add").click()
    await expect(page.get_by_test_id("note")).to_contain_text("客户要报价")
    text = await page.locator("main").inner_text()
    for code in ("mobile", "answered", "ended", "supervisor_todo", "positive", "negative",
                 "neutral", "retry", "new ·", "undefined", "null"):
        assert code not in text, code
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # phone-sized: nothing wider than the screen


async def test_given_agent_of_no_call_when_opening_customer_then_404(
        browser: Browser, site: tuple[str, dict[str, Any]]) -> None:
    base, world = site
    page = await signed_in(browser, base, "agent2")
    resp = await page.goto(f"{base}/customers/{world['customer_id']}")
    assert resp is not None and resp.status == 404
