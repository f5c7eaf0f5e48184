"""The supervisor to-do list on the live wallboard, in headless Chromium.

The app is wired like ``build_app`` (CRM routes, dialer routes, wallboard) on a dialer with
telephony fakes (the to-do path is CRM → wallboard and involves no call control): a high-intent
call goes through the CRM service (call events, transcript, post-call rules), the rule's
to-do must appear on an open page without a reload, and leave it when the task is closed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from crm.db.models_ops import User
from crm.domain.enums import TaskStatus
from crm.http.routing import SESSION_COOKIE
from crm.services.work import TaskChanges
from tests.helpers.web_apps import PASSWORD, Rig, fake_app, high_intent_call


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Rig, str]]:
    async with fake_app(tmp_path) as rig:
        server = TestServer(rig.app, host="127.0.0.1")
        await server.start_server()
        yield rig, str(server.make_url("/")).rstrip("/")
        await server.close()


async def manager_page(browser: Browser, rig: Rig, base: str) -> Page:
    session_id, _ = await rig.crm.auth.login("boss", PASSWORD)
    context = await browser.new_context(viewport={"width": 1024, "height": 900})
    await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id, "url": base}])
    return await context.new_page()


@pytest.mark.parametrize(("lang", "title", "owner_label"), [
    ("en", "High-intent lead: assign a senior agent", "Owner: boss"),
    ("zh", "高意向客户，请分配资深坐席", "负责人: boss"),
])
async def test_given_open_wallboard_when_rule_creates_todo_then_shown_live_and_gone_when_closed(
    browser: Browser, served: tuple[Rig, str], lang: str, title: str, owner_label: str,
) -> None:
    rig, base = served
    async with rig.crm.engine.connect() as conn:
        boss_id = await conn.scalar(sa.select(User.id).where(User.username == "boss"))
    campaign = await rig.crm.campaigns.create({"name": "managed", "manager_id": boss_id})
    page = await manager_page(browser, rig, base)
    await page.goto(f"{base}/wallboard?lang={lang}")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")
    await expect(page.get_by_test_id("todo-count")).to_have_text("0")
    await expect(page.get_by_test_id("todo-item")).to_have_count(0)
    reloads: list[str] = []
    page.on("framenavigated", lambda frame: reloads.append(frame.url))

    await high_intent_call(rig.crm, "call-todo", str(campaign.id), "赵六")

    item = page.get_by_test_id("todo-item")
    await expect(item).to_have_count(1, timeout=15_000)
    await expect(page.get_by_test_id("todo-count")).to_have_text("1")
    await expect(item.get_by_test_id("todo-customer")).to_have_text("赵六")
    await expect(item.get_by_test_id("todo-reason")).to_have_text(f"{title} [high-intent]")
    await expect(item.get_by_test_id("todo-evidence")).to_contain_text("intent")
    await expect(item).to_contain_text(owner_label)

    task_id = await item.get_attribute("data-task")
    assert task_id is not None
    await rig.crm.work.update_task(uuid.UUID(task_id), TaskChanges(
        status=TaskStatus.DONE, fields_set=frozenset({"status"})))
    await expect(page.get_by_test_id("todo-item")).to_have_count(0, timeout=15_000)
    await expect(page.get_by_test_id("todo-count")).to_have_text("0")
    assert reloads == []  # pushed over the socket, never a reload
