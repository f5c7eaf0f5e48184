"""The web app as the unit tests build it: the CRM's app (SQLite) with the dialer's routes,
pages, wallboard and metrics, on a dialer whose telephony is a fake (``FakeControl``)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import web as pages
from ari_app.adapters.crm_local import LocalCrm
from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.store import DialerStore
from crm.app import create_crm_app
from crm.db.engine import create_all, make_engine
from crm.domain.enums import Role
from crm.service import CrmService
from crm.services.customers import CustomerInput
from crm.settings import CrmSettings
from tests.helpers.dialer_fakes import Clock, FakeControl
from web.agent.pages import add_agent_pages
from web.appkeys import BUS, DIALER_KEY
from web.console.api import console_routes
from web.console.pages import add_console_pages
from web.dialer.api import dialer_routes
from web.metrics.prometheus import install_metrics
from web.status.api import status, status_routes
from web.wallboard.board import install_wallboard

PASSWORD = "pw-123456789"


async def fake_dialer(crm: CrmService, data_dir: Path) -> tuple[Dialer, FakeControl, DialerStore,
                                                               EventBus]:
    """A connected dialer on fakes (ARI control, clock) and the in-process CRM port; the caller
    closes the store."""
    control = FakeControl()
    store = DialerStore(data_dir / "dialer.sqlite3")
    await store.open()
    local = LocalCrm(crm)
    bus = EventBus()
    dialer = Dialer(control, store, local, local, bus, Clock(), worker="w", dispositions=local)
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.on_connected(Reconnected(0))
    return dialer, control, store, bus


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
    tokens, ids = {}, {}
    for name, role in (("agent1", Role.AGENT), ("boss", Role.MANAGER), ("root", Role.ADMIN)):
        user = await crm.auth.create_user(name, role, password=PASSWORD)
        tokens[name] = (await crm.auth.issue_token(user.id)).token
        ids[name] = user.id
    campaign = await crm.campaigns.create({"name": "wallboard", "manager_id": ids["boss"]})
    dialer, control, store, bus = await fake_dialer(crm, tmp_path)
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


def bearer(rig: Rig, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {rig.tokens[who]}"}


async def high_intent_call(crm: CrmService, call_id: str, campaign_id: str | None,
                           name: str, phone: str = "13800138001") -> None:
    """A call whose transcript and end make the default ``high-intent`` rule put the customer
    on the supervisor's to-do (the CRM's own path: events, segments, post-call rules)."""
    await crm.rules.seed_defaults_if_empty()
    customer, _ = await crm.customers.create(CustomerInput(name=name, phones=[phone]))
    ids = {"customer_id": str(customer.id), "agent_id": "agent1"}
    if campaign_id:
        ids["campaign_id"] = campaign_id
    await crm.ingest_call_event({"event_id": f"{call_id}-b", "call_id": call_id,
                                 "type": "bridged", **ids})
    await crm.add_transcript_segment(call_id, {
        "segment_id": "s1", "speaker": "customer", "start_s": 5.0, "end_s": 9.0,
        "text": "We are very interested in a cooperation, what is the price? Sounds great.",
        "confidence": 0.9})
    await crm.ingest_call_event({"event_id": f"{call_id}-a", "call_id": call_id,
                                 "type": "answered"})
    await crm.ingest_call_event({"event_id": f"{call_id}-e", "call_id": call_id,
                                 "type": "ended", "talk_seconds": 240})


@contextlib.asynccontextmanager
async def console_app(
    tmp_path: Path, *, seed: bool = True
) -> AsyncIterator[tuple[web.Application, CrmService, Dialer, dict[str, str]]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine)
    await crm.reference.seed_dispositions()
    tokens = {}
    users = (("agent1", Role.AGENT), ("boss", Role.MANAGER), ("boss2", Role.MANAGER),
             ("root", Role.ADMIN))
    for name, role in users if seed else ():
        user = await crm.auth.create_user(name, role, password=PASSWORD)
        tokens[name] = (await crm.auth.issue_token(user.id)).token
    dialer, control, store, bus = await fake_dialer(crm, tmp_path)
    app = create_crm_app(settings, service=crm,
                         extra_routes=[*dialer_routes(), *console_routes(), *status_routes()])
    app[DIALER_KEY] = dialer
    app[BUS] = bus
    install_metrics(app)
    app.router.add_get("/status", status)
    add_agent_pages(app)
    add_console_pages(app)
    app.router.add_static("/static", pages.STATIC_DIR)
    try:
        yield app, crm, dialer, tokens
    finally:
        await dialer.stop()
        await store.close()
        await crm.close()


class Api:
    """The dialer API's test client, calling as one of the users (``who``)."""

    def __init__(self, client: TestClient, tokens: dict[str, str], campaign_id: str,
                 control: FakeControl, crm: CrmService) -> None:
        self.client = client
        self.tokens = tokens
        self.campaign_id = campaign_id
        self.control = control
        self.crm = crm

    async def user(self, name: str, role: Role) -> uuid.UUID:
        """Another user, who can then call (``who=name``)."""
        user = await self.crm.auth.create_user(name, role, password=PASSWORD)
        self.tokens[name] = (await self.crm.auth.issue_token(user.id)).token
        return user.id

    async def call(self, method: str, path: str, who: str | None = "agent1",
                   body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        resp = await self.client.request(method, path, json=body, headers=headers)
        return resp.status, await resp.json()


@contextlib.asynccontextmanager
async def dialer_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The dialer's REST routes on the CRM's app, on a dialer with fakes; users agent1 (a member
    of the campaign, extensions 1001 and 1099 bound), boss (who manages the campaign), boss2
    (another manager) and root (admin)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine)
    tokens, ids = {}, {}
    for name, role in (("agent1", Role.AGENT), ("boss", Role.MANAGER), ("boss2", Role.MANAGER),
                       ("root", Role.ADMIN)):
        user = await crm.auth.create_user(name, role, password=PASSWORD)
        tokens[name] = (await crm.auth.issue_token(user.id)).token
        ids[name] = user.id
    campaign = await crm.campaigns.create({"name": "api", "manager_id": ids["boss"]})
    await crm.members.add(campaign.id, "agent1", None)  # agent1 logs into it, on its phones
    await crm.members.bind("agent1", ["1001", "1099"], None)
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    local = LocalCrm(crm)
    dialer = Dialer(control, store, local, local, EventBus(), Clock(), worker="w")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.on_connected(Reconnected(0))
    app = create_crm_app(settings, service=crm, extra_routes=dialer_routes())
    app[DIALER_KEY] = dialer
    try:
        async with TestClient(TestServer(app)) as client:
            yield Api(client, tokens, str(campaign.id), control, crm)
    finally:
        await dialer.stop()
        await store.close()
        await crm.close()
