"""The dialer speaking to the CRM over its REST API (the dialer on another machine)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from ari_app.adapters.crm_http import HttpCrm
from ari_app.adapters.crm_local import LocalCrm
from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.dialer.store import DialerStore
from ari_app.testing import CRM_NOW
from crm.app import create_crm_app
from crm.db.engine import create_all, make_engine
from crm.db.models import Call
from crm.db.models_ops import Lead
from crm.domain.enums import Role
from crm.ports import FixedClock
from crm.service import CrmService
from crm.settings import CrmSettings
from tests.helpers.dialer_fakes import Clock, FakeControl, customer_answers, until


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine, clock=FixedClock(CRM_NOW))
    await crm.reference.seed_dispositions()
    dialer_user = await crm.auth.create_user("dialer", Role.DIALER)
    token = (await crm.auth.issue_token(dialer_user.id)).token
    campaign = await crm.campaigns.create({"name": "remote"})
    async for _ in crm.import_leads(campaign.id, [{"phone": "+8613900000090", "name": "张伟"}]):
        pass
    server = TestServer(create_crm_app(settings, service=crm), host="127.0.0.1")
    await server.start_server()
    port = server.port
    http = HttpCrm(str(server.make_url("")), token, timeout=2)
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    dialer = Dialer(control, store, http, http, EventBus(), Clock(), worker="remote-1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    servers = [server]

    async def restart_server() -> None:
        again = TestServer(create_crm_app(settings, service=crm), host="127.0.0.1",
                           port=port)
        await again.start_server()
        servers.append(again)

    yield {"crm": crm, "dialer": dialer, "control": control, "server": server,
           "campaign_id": str(campaign.id), "store": store, "restart_server": restart_server}
    await dialer.stop()
    await http.close()
    for each in servers:
        await each.close()
    await store.close()
    await crm.close()


async def test_given_remote_dialer_when_call_runs_then_crm_has_record_attempt_and_recording(
    world: dict[str, Any],
) -> None:
    dialer, control, crm = world["dialer"], world["control"], world["crm"]
    await dialer.start_campaign(CampaignConfig(world["campaign_id"], mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", world["campaign_id"])
    await until(lambda: len(control.verbs("originate")) == 2, timeout=5)
    call_id = control.verbs("originate")[1][1]
    await customer_answers(control, call_id)
    await control.emit("ChannelDestroyed", call_id, cause=16)
    await dialer.dispose("a1", "sale")

    async def delivered() -> bool:
        stats = await world["store"].outbox_stats()
        return all(lane["pending"] == 0 for lane in stats.values()) and "recordings" in stats

    for _ in range(200):
        if await delivered():
            break
        await asyncio.sleep(0.02)
    async with crm.engine.connect() as conn:
        call = (await conn.execute(sa.select(Call))).one()
        lead = (await conn.execute(sa.select(Lead))).one()
    assert call.call_id == call_id and call.state == "ended" and call.disposition == "sale"
    assert call.recording_url == f"/api/calls/{call_id}/recording"
    assert lead.attempts == 1 and lead.status == "done" and lead.last_outcome == "answered"
    assert dialer.agents.sessions["a1"].state is AgentState.READY


async def test_given_crm_server_down_when_events_queue_then_delivered_after_it_returns(
    world: dict[str, Any],
) -> None:
    store, server = world["store"], world["server"]
    await server.close()  # the CRM machine is down
    await store.append("e-1", "call_events", {
        "event_id": "e-1", "call_id": "call-x", "type": "originated",
        "occurred_at": "2026-03-02T03:00:00+00:00", "number_dialed": "+8613900000090"})
    forwarder = world["dialer"].forwarders[0]
    await until(lambda: forwarder.failures >= 1, timeout=5)
    assert (await store.outbox_stats())["call_events"]["pending"] == 1

    await world["restart_server"]()  # same port: the CRM is back
    try:
        await until(lambda: forwarder.delivered >= 1, timeout=10)
    except TimeoutError:
        raise AssertionError(forwarder.last_error) from None
    async with world["crm"].engine.connect() as conn:
        assert (await conn.execute(sa.select(Call.call_id))).scalars().all() == ["call-x"]


async def test_given_an_abandon_alarm_when_sent_over_http_then_one_todo_for_the_manager(
    world: dict[str, Any],
) -> None:
    crm, http = world["crm"], world["dialer"].crm
    campaign_id = world["campaign_id"]
    manager = await crm.auth.create_user("boss", Role.MANAGER)
    await crm.campaigns.update(uuid.UUID(campaign_id), {"manager_id": manager.id})
    title = {"zh": "放弃率告警：remote", "en": "Abandon alarm: remote"}
    for _ in range(2):  # the outbox may deliver twice
        await http.supervisor_todo(campaign_id, "abandon-alarm-1", title, ["4 abandoned of 4"])
    page = await crm.rule_audit.supervisor_todo(owner_id=manager.id, include_unowned=False)
    assert page.total == 1
    task, firing = page.items[0]
    assert (task.title, task.priority, firing.rule_id) == ("放弃率告警：remote", 3, "dialer")
    assert firing.evidence == ["4 abandoned of 4"]
    assert task.description.startswith("Abandon alarm: remote\n\n")
    # the brake's counts, over HTTP and in-process
    assert await http.abandon_counts(campaign_id, 0.0) == (0, 0)
    assert await LocalCrm(crm).abandon_counts(campaign_id, 0.0) == (0, 0)
