"""Listen / whisper / barge buttons on the wallboard, in headless Chromium.

The app is wired like ``build_app`` (CRM routes, dialer and monitor routes, wallboard pages);
the dialer runs on in-memory telephony fakes (the real snoops are tested on the sandbox in
tests/integration/test_supervisor_monitor.py): the buttons must reach the monitor desk with
the manager's session, show what is active, and stop it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

import web as pages
from ari_app.adapters.crm_local import LocalCrm
from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.dialer.monitor import MonitorDesk
from ari_app.dialer.store import DialerStore
from crm.app import create_crm_app
from crm.db.engine import create_all, make_engine
from crm.domain.enums import Role
from crm.http.routing import SESSION_COOKIE
from crm.service import CrmService
from crm.settings import CrmSettings
from tests.helpers.dialer_fakes import Clock, FakeCrm, SnoopControl, customer_answers, lead, until
from web.agent.pages import add_agent_pages
from web.appkeys import BUS
from web.dialer.api import DIALER_KEY, dialer_routes
from web.monitor.api import MONITOR_KEY, build_monitor, monitor_routes
from web.wallboard.board import install_wallboard

PASSWORD = "pw-123456789"


@dataclass
class Rig:
    app: web.Application
    crm: CrmService
    dialer: Dialer
    control: SnoopControl
    desk: MonitorDesk


@contextlib.asynccontextmanager
async def monitor_app(tmp_path: Path) -> AsyncIterator[Rig]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine)
    await crm.auth.create_user("boss", Role.MANAGER, password=PASSWORD)
    control = SnoopControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    fake = FakeCrm([lead(0)])
    bus = EventBus()
    dialer = Dialer(control, store, fake, LocalCrm(crm), bus, Clock(), worker="w")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    desk = build_monitor(dialer, control, router)  # type: ignore[arg-type]
    await dialer.on_connected(Reconnected(0))
    app = create_crm_app(settings, service=crm, extra_routes=[*dialer_routes(), *monitor_routes()])
    app[DIALER_KEY] = dialer
    app[MONITOR_KEY] = desk
    app[BUS] = bus
    install_wallboard(app, min_interval_s=0.05)
    add_agent_pages(app)
    app.router.add_static("/static", pages.STATIC_DIR)
    try:
        yield Rig(app, crm, dialer, control, desk)
    finally:
        await dialer.stop()
        await store.close()
        await crm.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Rig, str]]:
    async with monitor_app(tmp_path) as rig:
        server = TestServer(rig.app, host="127.0.0.1")
        await server.start_server()
        yield rig, str(server.make_url("/")).rstrip("/")
        await server.close()


async def manager_page(browser: Browser, rig: Rig, base: str) -> Page:
    session_id, _ = await rig.crm.auth.login("boss", PASSWORD)
    context = await browser.new_context(viewport={"width": 390, "height": 800})
    await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id, "url": base}])
    return await context.new_page()


async def test_given_agent_on_call_when_manager_clicks_listen_whisper_stop_then_monitor_follows(
    browser: Browser, served: tuple[Rig, str],
) -> None:
    rig, base = served
    page = await manager_page(browser, rig, base)
    await page.goto(f"{base}/wallboard?lang=en")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")

    await rig.dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await rig.dialer.login("agent1", "1001", "c1")
    await until(lambda: len(rig.control.verbs("originate")) == 2)
    call_id = rig.control.verbs("originate")[1][1]
    row = page.locator('[data-agent="agent1"]')
    await expect(row.get_by_test_id("mon-listen")).to_have_count(0)  # not on a call yet
    await customer_answers(rig.control, call_id)

    await expect(row.get_by_test_id("mon-listen")).to_be_visible()
    await row.get_by_test_id("mon-listen").click()  # no extension yet: refused, says why
    await expect(page.get_by_test_id("mon-msg")).to_contain_text("extension")
    assert rig.desk.live() == []

    await page.get_by_test_id("mon-ext").fill("1037")
    await row.get_by_test_id("mon-listen").click()
    await expect(page.get_by_test_id("mon-msg")).to_contain_text("Listen · 1037")
    await expect(row.get_by_test_id("mon-listen")).to_have_attribute("aria-pressed", "true")
    (session,) = rig.desk.live()
    assert (session.call_id, session.supervisor, session.mode.value) == (call_id, "boss", "listen")
    assert rig.control.verbs("snoop")[-1][3] == "none"

    await row.get_by_test_id("mon-whisper").click()
    await expect(row.get_by_test_id("mon-whisper")).to_have_attribute("aria-pressed", "true")
    assert session.mode.value == "whisper" and rig.control.verbs("snoop")[-1][3] == "out"

    await row.get_by_test_id("mon-stop").click()
    await expect(page.get_by_test_id("mon-msg")).to_have_text("Monitoring stopped")
    await expect(row.get_by_test_id("mon-stop")).to_have_count(0)
    assert rig.desk.live() == []
    assert ("hangup", (session.leg_id,)) in rig.control.log
