"""Monitoring over HTTP: roles (403 for agents), 404/409/400 naming the field, audit rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from ari_app.adapters.crm_local import LocalCrm
from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.dialer.store import DialerStore
from crm.app import create_crm_app
from crm.db.engine import create_all, make_engine
from crm.db.models_ops import AuditLog
from crm.domain.enums import Role
from crm.service import CrmService
from crm.settings import CrmSettings
from tests.helpers.dialer_fakes import Clock, FakeCrm, SnoopControl, customer_answers, lead, until
from web.dialer.api import DIALER_KEY, dialer_routes
from web.monitor.api import MONITOR_KEY, MonitorAudit, build_monitor, monitor_routes


class Api:
    def __init__(self, client: TestClient, tokens: dict[str, str], dialer: Dialer,
                 control: SnoopControl, crm: CrmService, auditor: MonitorAudit) -> None:
        self.client, self.tokens, self.dialer = client, tokens, dialer
        self.control, self.crm, self.auditor = control, crm, auditor

    async def call(self, method: str, path: str, who: str | None = "boss",
                   body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        resp = await self.client.request(method, path, json=body, headers=headers)
        return resp.status, await resp.json()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine)
    tokens = {}
    for name, role in (("agent1", Role.AGENT), ("boss", Role.MANAGER), ("root", Role.ADMIN)):
        user = await crm.auth.create_user(name, role, password="pw-123456789")
        tokens[name] = (await crm.auth.issue_token(user.id)).token
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
    auditor = MonitorAudit(bus, crm)
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    app = create_crm_app(settings, service=crm,
                         extra_routes=[*dialer_routes(), *monitor_routes()])
    app[DIALER_KEY] = dialer
    app[MONITOR_KEY] = desk
    async with TestClient(TestServer(app)) as client:
        yield Api(client, tokens, dialer, control, crm, auditor)
    await auditor.close()
    await dialer.stop()
    await store.close()
    await crm.close()


async def live_call(api: Api) -> str:
    await api.dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await api.dialer.login("a1", "1001", "c1")
    await until(lambda: len(api.control.verbs("originate")) == 2)
    call_id: str = api.control.verbs("originate")[1][1]
    await customer_answers(api.control, call_id)
    return call_id


async def audit_rows(api: Api) -> list[Any]:
    async with api.crm.engine.connect() as conn:
        return list((await conn.execute(
            sa.select(AuditLog).where(AuditLog.action.startswith("monitor."))  # type: ignore[attr-defined]
            .order_by(AuditLog.id))).all())


async def test_given_agent_when_monitor_requested_then_403(api: Api) -> None:
    call_id = await live_call(api)
    status, body = await api.call("POST", f"/api/dialer/calls/{call_id}/monitor", "agent1",
                                  {"mode": "listen", "extension": "1037"})
    assert status == 403 and body["error"] == "forbidden"
    status, _ = await api.call("GET", "/api/dialer/monitors", "agent1")
    assert status == 403
    assert api.control.verbs("snoop") == []


@pytest.mark.parametrize(("body", "field"), [
    ({"mode": "shout", "extension": "1037"}, "mode"),
    ({"mode": "listen", "extension": "10x7"}, "extension"),
    ({"mode": "listen", "extension": "1037", "volume": 3}, "volume"),
    ({"extension": "1037"}, "mode"),
])
async def test_given_bad_body_then_400_naming_the_field(
    api: Api, body: dict[str, Any], field: str,
) -> None:
    call_id = await live_call(api)
    status, answer = await api.call("POST", f"/api/dialer/calls/{call_id}/monitor", body=body)
    assert status == 400, answer
    assert answer["details"]["field"] == field


async def test_given_unknown_or_unconnected_call_then_404_or_409(api: Api) -> None:
    status, body = await api.call("POST", "/api/dialer/calls/call-nope/monitor",
                                  body={"mode": "listen", "extension": "1037"})
    assert status == 404 and body["details"]["field"] == "call_id"
    await api.dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await api.dialer.login("a1", "1001", "c1")
    await until(lambda: len(api.control.verbs("originate")) == 2)
    ringing = api.control.verbs("originate")[1][1]
    status, body = await api.call("POST", f"/api/dialer/calls/{ringing}/monitor",
                                  body={"mode": "listen", "extension": "1037"})
    assert status == 409 and body["details"]["field"] == "call_id"
    status, body = await api.call("DELETE", f"/api/dialer/calls/{ringing}/monitor")
    assert status == 404 and body["details"]["field"] == "call_id"


async def test_given_manager_when_listen_switch_stop_then_each_step_audited(api: Api) -> None:
    call_id = await live_call(api)
    path = f"/api/dialer/calls/{call_id}/monitor"
    status, started = await api.call("POST", path, body={"mode": "listen", "extension": "1037"})
    assert status == 200 and started["mode"] == "listen" and started["state"] == "active"
    status, switched = await api.call("POST", path, body={"mode": "barge"})  # extension remembered
    assert status == 200 and switched["mode"] == "barge" and switched["in_call_bridge"]
    status, listed = await api.call("GET", "/api/dialer/monitors")
    assert [m["monitor_id"] for m in listed["monitors"]] == [started["monitor_id"]]
    status, stopped = await api.call("DELETE", path)
    assert status == 200 and stopped["stopped"][0]["state"] == "ended"

    await until(lambda: api.auditor.written == 3)
    rows = await audit_rows(api)
    assert [r.action for r in rows] == ["monitor.started", "monitor.mode_changed",
                                        "monitor.ended"]
    boss = await api.crm.auth.principal_for_token(api.tokens["boss"])
    assert {r.actor_id for r in rows} == {boss.user_id}
    assert rows[0].entity_id == call_id and rows[1].details["mode"] == "barge"
    assert isinstance(rows[0].actor_id, uuid.UUID)


async def test_given_another_managers_campaign_when_monitor_requested_then_403(api: Api) -> None:
    """Issue 17 finding 4: a manager monitors only the live calls of their own campaigns."""
    other = await api.crm.auth.create_user("boss2", Role.MANAGER, password="pw-123456789")
    campaign = await api.crm.campaigns.create({"name": "theirs", "manager_id": other.id})
    await api.dialer.start_campaign(CampaignConfig(str(campaign.id), mode=DialMode.PROGRESSIVE))
    await api.dialer.login("a1", "1001", str(campaign.id))
    await until(lambda: len(api.control.verbs("originate")) == 2)
    call_id: str = api.control.verbs("originate")[1][1]
    await customer_answers(api.control, call_id)
    status, body = await api.call("POST", f"/api/dialer/calls/{call_id}/monitor", "boss",
                                  {"mode": "listen", "extension": "1037"})
    assert status == 403 and body["details"]["campaign_id"] == str(campaign.id)
    assert (await api.call("DELETE", f"/api/dialer/calls/{call_id}/monitor", "boss"))[0] == 403
    assert api.control.verbs("snoop") == []
    status, _ = await api.call("POST", f"/api/dialer/calls/{call_id}/monitor", "root",
                               {"mode": "listen", "extension": "1037"})
    assert status == 200
