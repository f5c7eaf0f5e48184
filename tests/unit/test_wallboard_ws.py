"""``/ws/wallboard`` through aiohttp's test client, on a dialer built with fakes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import web as pages
from ari_app.adapters.crm_local import LocalCrm
from ari_app.adapters.http_dialer import dialer_routes
from ari_app.adapters.metrics import install_metrics
from ari_app.adapters.pages import add_agent_pages
from ari_app.adapters.wallboard import Wallboard, install_wallboard
from ari_app.appkeys import BUS, DIALER_KEY
from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.events import AgentStateChanged
from ari_app.dialer.model import AgentState, CampaignConfig
from ari_app.dialer.store import DialerStore
from crm.app import create_crm_app
from crm.db.engine import create_all, make_engine
from crm.domain.enums import Role
from crm.service import CrmService
from crm.settings import CrmSettings
from tests.unit.test_dialer_engine import Clock, FakeControl

PASSWORD = "pw-123456789"


@dataclass
class Rig:
    app: web.Application
    crm: CrmService
    dialer: Dialer
    bus: EventBus
    control: FakeControl
    tokens: dict[str, str]
    campaign_id: str


@contextlib.asynccontextmanager
async def fake_app(tmp_path: Path) -> AsyncIterator[Rig]:
    """The app as ``build_app`` wires it (pages, wallboard, metrics), on a dialer with fakes."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine)
    tokens = {}
    for name, role in (("agent1", Role.AGENT), ("boss", Role.MANAGER), ("root", Role.ADMIN)):
        user = await crm.auth.create_user(name, role, password=PASSWORD)
        tokens[name] = (await crm.auth.issue_token(user.id)).token
    campaign = await crm.campaigns.create({"name": "wallboard"})
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    local = LocalCrm(crm)
    bus = EventBus()
    dialer = Dialer(control, store, local, local, bus, Clock(), worker="w")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.on_connected(Reconnected(0))
    app = create_crm_app(settings, service=crm, extra_routes=dialer_routes())
    app[DIALER_KEY] = dialer
    app[BUS] = bus
    install_wallboard(app, min_interval_s=0.05)
    install_metrics(app)
    add_agent_pages(app)
    app.router.add_static("/static", pages.STATIC_DIR)
    try:
        yield Rig(app, crm, dialer, bus, control, tokens, str(campaign.id))
    finally:
        await dialer.stop()
        await store.close()
        await crm.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, TestClient]]:
    async with fake_app(tmp_path) as rig, TestClient(TestServer(rig.app)) as client:
        yield rig, client


def bearer(rig: Rig, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {rig.tokens[who]}"}


async def next_board(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    async with asyncio.timeout(3):
        while True:
            msg = json.loads((await ws.receive()).data)
            if msg["type"] == "wallboard":
                return msg


def agent_changed(agent_id: str, campaign_id: str, state: AgentState) -> AgentStateChanged:
    return AgentStateChanged(agent_id, campaign_id, AgentState.READY, state, 0.0)


async def test_given_manager_when_connecting_then_snapshot_then_update_after_agent_change(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    await board.dialer.login("agent1", "1001", board.campaign_id)
    async with client.ws_connect("/ws/wallboard", headers=bearer(board, "boss")) as ws:
        first = await next_board(ws)
        assert first["agent_counts"]["ready"] == 1 and first["target"] == 0.03
        assert [a["agent_id"] for a in first["agents"]] == ["agent1"]

        await board.dialer.pause("agent1", "lunch")  # the desk publishes AgentStateChanged
        update = await next_board(ws)
        assert update["agent_counts"]["paused"] == 1 and update["agent_counts"]["ready"] == 0
        assert update["agents"][0]["pause_code"] == "lunch"


async def test_given_burst_of_events_when_published_then_pushes_are_debounced(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    async with client.ws_connect("/ws/wallboard", headers=bearer(board, "root")) as ws:
        await next_board(ws)
        for _ in range(50):
            board.bus.publish(agent_changed("a9", board.campaign_id, AgentState.PAUSED))
        await next_board(ws)
        with pytest.raises(TimeoutError):  # the burst became one or two pushes, not fifty
            async with asyncio.timeout(0.3):
                for _ in range(2):
                    await next_board(ws)


@pytest.mark.parametrize(("who", "status"), [("agent1", 403), (None, 401)])
async def test_given_not_a_manager_when_connecting_then_refused(
    rig: tuple[Rig, TestClient], who: str | None, status: int,
) -> None:
    board, client = rig
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/wallboard", headers=bearer(board, who) if who else {})
    assert refused.value.status == status


async def test_given_manager_when_page_requested_then_rendered_and_agent_refused(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    page = await client.get("/wallboard?lang=en", headers=bearer(board, "boss"))
    assert page.status == 200 and "Live wallboard" in await page.text()
    refused = await client.get("/wallboard", headers=bearer(board, "agent1"))
    assert refused.status == 403 and (await refused.json())["error"]
    anonymous = await client.get("/wallboard", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login")


async def test_given_running_campaign_when_sampled_then_history_is_a_bounded_ring(
    rig: tuple[Rig, TestClient],
) -> None:
    board, _ = rig
    board.dialer.run_campaign(CampaignConfig(board.campaign_id, name="c"))
    now = [1000.0]
    wallboard = Wallboard(board.dialer, history=3, sample_s=10, clock=lambda: now[0])
    for step in range(10):
        now[0] = 1000.0 + step * 5
        wallboard.sample()
    message = wallboard.message()
    assert [s["t"] for s in message["history"]] == [1020.0, 1030.0, 1040.0]
    assert board.campaign_id in message["history"][-1]["campaigns"]
    assert message["campaigns"][0]["hopper"] == 0
