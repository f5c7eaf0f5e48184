"""The permissions matrix, generated from the route table (issue 17).

Every route of the running app (``crm.app.api_routes`` + the dialer's, monitor's, console's and
status routes, as ``web.main.build_app`` composes them) and both WebSockets has a declarative
rule here; from the rule the expected outcome for each actor is derived and asserted against
the app:

- ``anonymous``: no credentials;
- ``agent_own`` (agent1) / ``agent_other`` (agent2): the agent whose call, task, customer the
  path names, and another agent;
- ``manager_own`` (boss) / ``manager_other`` (boss2): the manager of the campaign the path's
  object belongs to, and another manager;
- ``admin`` (root).

Refused: 401 (anonymous) or 403; allowed: anything else (a 400/404/409 for an allowed caller is
fine: the matrix checks who gets through, not what the route does). A route without a rule
fails ``route X has no permission rule``. Cases the app still gets wrong are marked
``xfail(strict=True)`` with the finding of issue 17: they turn red when fixed without updating
the matrix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

import web as pages
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import CallAttempt, CallPhase
from crm.app import api_routes, create_crm_app
from crm.db.engine import create_all, make_engine
from crm.domain.enums import Role
from crm.pops.ws import install_pops
from crm.service import CrmService
from crm.settings import CrmSettings
from tests.helpers.audio import wav
from tests.helpers.web_apps import fake_dialer
from web.agent.pages import add_agent_pages
from web.appkeys import BUS, DIALER_KEY
from web.console.api import console_routes
from web.dialer.api import dialer_routes
from web.monitor.api import MONITOR_KEY, build_monitor, monitor_routes
from web.status.api import status_routes
from web.wallboard.board import install_wallboard

pytestmark = pytest.mark.asyncio(loop_scope="module")

ACTORS = ("anonymous", "agent_other", "manager_other", "agent_own", "manager_own", "admin")
WHO = {"agent_own": "agent1", "agent_other": "agent2", "manager_own": "boss",
       "manager_other": "boss2", "admin": "root"}
PASSWORD = "pw-123456789"

# rule -> the actors allowed through (admin always is)
RULES: dict[str, frozenset[str]] = {
    "public": frozenset(ACTORS),
    "authenticated": frozenset(ACTORS) - {"anonymous"},
    "manager": frozenset({"manager_own", "manager_other", "admin"}),
    "admin": frozenset({"admin"}),
    "dialer": frozenset({"admin"}),  # the dialer's machine account (and admins)
    # an object of boss's campaign: its manager (and admins)
    "manager_campaign": frozenset({"manager_own", "admin"}),
    # an object created by boss (experiment, rule): its owner (and admins)
    "manager_owner": frozenset({"manager_own", "admin"}),
    # agent1's call/task/customer in boss's campaign: agent1, boss (and admins)
    "agent_self": frozenset({"agent_own", "manager_own", "admin"}),
    # boss's campaign as its members (agent1) use it: log in, read their side (and admins)
    "campaign_member": frozenset({"agent_own", "manager_own", "admin"}),
    # agent1's own user record (managers read users)
    "user_self": frozenset({"agent_own", "admin"}),
    "user_self_or_manager": frozenset({"agent_own", "manager_own", "manager_other", "admin"}),
    # a signed recording URL issued to agent1: only agent1
    "url_holder": frozenset({"agent_own"}),
}


@dataclass(frozen=True)
class Rule:
    kind: str
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)  # path param -> fixture object name
    query: str = ""
    xfail: dict[str, str] = field(default_factory=dict)  # actor -> "issue 17 finding N: ..."


F4 = "issue 17 finding 4: managers not scoped to their campaigns"
F5 = "issue 17 finding 5: managers change shared objects"
F6 = "issue 17 finding 6: agents read and edit any customer"


def x(reason: str, *actors: str) -> dict[str, str]:
    return {a: reason for a in actors}


CUSTOMER = {"name": "Renamed"}
MATRIX: dict[tuple[str, str], Rule] = {
    ("GET", "/api/openapi.json"): Rule("public"),
    ("POST", "/api/auth/login"): Rule("public", {"username": "agent2", "password": PASSWORD}),
    ("GET", "/api/auth/me"): Rule("authenticated"),
    ("GET", "/api/auth/tokens"): Rule("authenticated"),  # one's own (admin: ?user_id=)
    ("DELETE", "/api/auth/tokens/{token_id}"): Rule("user_self"),  # agent1's spare token
    ("GET", "/api/users"): Rule("manager"),
    ("POST", "/api/users"): Rule("admin", {"username": "new-user", "role": "agent",
                                           "password": PASSWORD}),
    ("GET", "/api/users/{user_id}"): Rule("user_self_or_manager"),
    ("PATCH", "/api/users/{user_id}"): Rule("user_self", {"display_name": "Agent One"}),
    ("POST", "/api/users/{user_id}/tokens"): Rule("user_self", {}),
    ("DELETE", "/api/tokens/{token_id}"): Rule("admin"),
    ("GET", "/api/dispositions"): Rule("authenticated"),
    ("POST", "/api/dispositions"): Rule("admin", {"code": "x", "label": "x"}),
    ("GET", "/api/scripts"): Rule("authenticated"),
    # a script of no campaign shows in every pop: admins only (a campaign's: its manager)
    ("POST", "/api/scripts"): Rule("admin", {"name": "t", "body": "b"}),
    ("PATCH", "/api/scripts/{script_id}"): Rule("manager_owner", {"priority": 2}),
    ("DELETE", "/api/scripts/{script_id}"): Rule("manager_owner"),
    ("GET", "/api/customers"): Rule("authenticated"),
    ("POST", "/api/customers"): Rule("authenticated", {"name": "New", "phones": []}),
    ("GET", "/api/customers/{customer_id}"): Rule(
        "agent_self"),
    ("PATCH", "/api/customers/{customer_id}"): Rule(
        "agent_self", CUSTOMER),
    ("POST", "/api/customers/{customer_id}/merge"): Rule(
        "manager_campaign", {"source_ids": ["@customer_merged"]}),
    ("POST", "/api/customers/{customer_id}/merge/preview"): Rule(
        "manager_campaign", {"source_ids": ["@customer_merged"]}),
    ("GET", "/api/customers/{customer_id}/activity"): Rule("agent_self"),
    ("GET", "/api/customers/{customer_id}/numbers"): Rule(
        "agent_self"),
    ("POST", "/api/customers/{customer_id}/numbers"): Rule(
        "agent_self", {"number": "13900139000"}),
    ("DELETE", "/api/customers/{customer_id}/numbers/{number}"): Rule(
        "manager_campaign", params={"customer_id": "customer_spare", "number": "number_spare"}),
    ("GET", "/api/numbers/{number}"): Rule(
        "agent_self"),
    ("GET", "/api/customers/{customer_id}/notes"): Rule(
        "agent_self"),
    ("POST", "/api/customers/{customer_id}/notes"): Rule(
        "agent_self", {"body": "a note"}),
    ("POST", "/api/calls"): Rule("dialer", {}),
    ("GET", "/api/calls"): Rule("authenticated"),
    ("GET", "/api/calls/{call_id}"): Rule("agent_self"),
    ("PUT", "/api/calls/{call_id}/recording"): Rule("dialer"),
    ("GET", "/api/tasks"): Rule("authenticated"),
    ("GET", "/api/callbacks"): Rule("authenticated"),
    ("PUT", "/api/leads/{lead_id}/callback-owner"): Rule("manager_campaign", {"owner": None}),
    ("POST", "/api/tasks"): Rule("authenticated", {"title": "a task"}),
    ("GET", "/api/tasks/{task_id}"): Rule("agent_self"),
    ("PATCH", "/api/tasks/{task_id}"): Rule("agent_self", {"priority": 5}),
    ("GET", "/api/campaigns"): Rule("manager"),
    ("POST", "/api/campaigns"): Rule("manager", {"name": "another"}),
    ("GET", "/api/campaigns/{campaign_id}"): Rule("manager_campaign"),
    ("PATCH", "/api/campaigns/{campaign_id}"): Rule("manager_campaign", {"max_attempts": 3}),
    ("GET", "/api/campaigns/{campaign_id}/leads"): Rule("campaign_member"),
    ("GET", "/api/campaigns/{campaign_id}/members"): Rule("manager_campaign"),
    ("POST", "/api/campaigns/{campaign_id}/members"): Rule("manager_campaign",
                                                           {"username": "agent3"}),
    ("DELETE", "/api/campaigns/{campaign_id}/members/{username}"): Rule(
        "manager_campaign", params={"username": "member_spare"}),
    # agent1 is a member of boss's campaign: boss binds their phones
    ("PUT", "/api/agents/{username}/extensions"): Rule("manager_campaign",
                                                       {"extensions": ["1001"]}),
    ("POST", "/api/campaigns/{campaign_id}/leads"): Rule(
        "manager_campaign", {"phone": "13700137000"}),
    ("POST", "/api/campaigns/{campaign_id}/leads/import"): Rule("manager_campaign"),
    ("GET", "/api/leads"): Rule("authenticated"),
    # agents see leads through their calls and pops, not by id
    ("GET", "/api/leads/{lead_id}"): Rule("manager_campaign"),
    ("PATCH", "/api/leads/{lead_id}"): Rule("manager_campaign", {"priority": 3}),
    ("GET", "/api/dnc"): Rule("manager"),
    ("GET", "/api/dnc/check"): Rule("authenticated", query="number=13800138000"),
    ("POST", "/api/dnc"): Rule("authenticated", {"number": "13600136000"}),
    ("DELETE", "/api/dnc/{entry_id}"): Rule("admin"),
    ("POST", "/api/campaigns/{campaign_id}/hopper/claim"): Rule("dialer", {}),
    ("POST", "/api/hopper/release"): Rule("dialer", {}),
    ("POST", "/api/leads/{lead_id}/attempts"): Rule("dialer", {}),
    ("GET", "/api/campaigns/{campaign_id}/abandons"): Rule(
        "dialer", query="since=2026-01-01T00:00:00Z"),
    ("POST", "/api/campaigns/{campaign_id}/supervisor-todo"): Rule(
        "dialer", {"key": "k", "title_zh": "t", "title_en": "t"}),
    ("POST", "/api/recordings/{recording_id}/url"): Rule("agent_self"),
    ("GET", "/api/calls/{call_id}/recording"): Rule("agent_self"),
    ("GET", "/recordings/{token}"): Rule("url_holder"),
    ("GET", "/api/campaigns/{campaign_id}/retention"): Rule("manager_campaign"),
    ("PUT", "/api/campaigns/{campaign_id}/retention"): Rule("manager_campaign",
                                                            {"retention_days": 30}),
    ("POST", "/api/admin/recordings/sweep"): Rule("admin"),
    ("GET", "/api/customers/{customer_id}/export"): Rule("manager_campaign"),
    ("POST", "/api/customers/{customer_id}/erase"): Rule("admin", {},
                                                         params={"customer_id": "customer_gone"}),
    ("DELETE", "/api/customers/{customer_id}"): Rule("admin",
                                                     params={"customer_id": "customer_gone"}),
    ("GET", "/api/reports/campaigns"): Rule("manager"),
    ("GET", "/api/reports/agents"): Rule("manager"),
    ("GET", "/api/reports/days"): Rule("manager"),
    ("GET", "/api/campaigns/{campaign_id}/penetration"): Rule("manager_campaign"),
    ("POST", "/api/campaigns/{campaign_id}/recycle"): Rule("manager_campaign",
                                                           {"outcomes": ["no_answer"]}),
    ("POST", "/api/experiments"): Rule("manager", {"key": "x"}),
    ("GET", "/api/experiments"): Rule("manager"),
    ("GET", "/api/experiments/variant"): Rule("manager", query="key=x&unit_id=y"),
    ("GET", "/api/experiments/{experiment_id}"): Rule("manager"),
    ("POST", "/api/experiments/{experiment_id}/stop"): Rule("manager_owner"),
    ("GET", "/api/experiments/{experiment_id}/assignments"): Rule("manager"),
    ("GET", "/api/experiments/{experiment_id}/report"): Rule("manager"),
    ("POST", "/api/calls/{call_id}/transcript"): Rule("dialer", {}),
    ("GET", "/api/calls/{call_id}/transcript"): Rule("agent_self"),
    ("GET", "/api/calls/{call_id}/analysis"): Rule("agent_self"),
    ("GET", "/api/rules"): Rule("manager"),
    ("POST", "/api/rules"): Rule("manager", {"id": "x"}),
    ("POST", "/api/rules/import"): Rule("manager"),
    ("GET", "/api/rules/{rule_id}"): Rule("manager"),
    ("PUT", "/api/rules/{rule_id}"): Rule("manager_owner", "@rule_body"),
    ("DELETE", "/api/rules/{rule_id}"): Rule("manager_owner"),
    ("GET", "/api/rule-firings"): Rule("manager"),
    ("GET", "/api/supervisor/todo"): Rule("manager"),
    ("GET", "/api/models/answer"): Rule("manager"),
    ("GET", "/api/models/answer/versions/{version}"): Rule("manager"),
    ("POST", "/api/models/answer/retrain"): Rule("manager"),
    ("GET", "/api/leads/{lead_id}/best-time"): Rule("manager_campaign"),
    ("GET", "/api/models/conversion"): Rule("manager"),
    ("POST", "/api/models/conversion/retrain"): Rule("manager"),
    ("GET", "/api/customers/{customer_id}/route"): Rule(
        "agent_self"),
    ("PUT", "/api/customers/{customer_id}/route"): Rule(
        "manager_campaign", {"route": "senior"}),
    ("GET", "/api/agents/seniority"): Rule("manager"),
    # an agent who works boss's campaign (agent1 has its calls): boss sets their seniority
    ("PUT", "/api/agents/{username}/seniority"): Rule(
        "manager_campaign", {"seniority": "standard"}),
    # each actor on their own bound extension: the campaign's membership decides (issue 17 #7)
    ("POST", "/api/agent/login"): Rule("campaign_member", {"extension": "@extension",
                                                           "campaign_id": "@campaign_id"}),
    # a member dials a customer they may see (issue 13 item 2); others: 403
    ("POST", "/api/agent/manual-dial"): Rule("campaign_member", {
        "campaign_id": "@campaign_id", "customer_id": "@customer_id"}),
    ("POST", "/api/agent/logout"): Rule("authenticated"),
    ("POST", "/api/agent/ready"): Rule("authenticated"),
    ("POST", "/api/agent/pause"): Rule("authenticated", {"pause_code": "break"}),
    ("POST", "/api/agent/hangup"): Rule("authenticated"),
    ("POST", "/api/agent/hold"): Rule("authenticated"),
    ("POST", "/api/agent/mute"): Rule("authenticated"),
    ("POST", "/api/agent/disposition"): Rule("authenticated", {"disposition": "sale"}),
    ("POST", "/api/agent/preview/accept"): Rule("authenticated"),
    ("POST", "/api/agent/preview/skip"): Rule("authenticated", {"reason": "r"}),
    ("GET", "/api/agent/state"): Rule("authenticated"),
    ("POST", "/api/dialer/campaigns/{campaign_id}/run"): Rule("manager_campaign",
                                                              {"mode": "preview"}),
    ("POST", "/api/dialer/campaigns/{campaign_id}/mode"): Rule("manager_campaign",
                                                               {"mode": "preview"}),
    ("POST", "/api/dialer/campaigns/{campaign_id}/stop"): Rule("manager_campaign"),
    ("GET", "/api/dialer/status"): Rule("manager"),
    ("GET", "/api/admin/asterisk"): Rule("admin"),
    ("POST", "/api/admin/asterisk/reload"): Rule("admin", {"module": "x"}),
    # a live call of boss's campaign in the fake dialer (dialing: the desk answers 409)
    ("POST", "/api/dialer/calls/{call_id}/monitor"): Rule(
        "manager_campaign", {"mode": "listen", "extension": "1001"},
        params={"call_id": "live_call_id"}),
    ("DELETE", "/api/dialer/calls/{call_id}/monitor"): Rule(
        "manager_campaign", params={"call_id": "live_call_id"}),
    ("GET", "/api/dialer/monitors"): Rule("manager"),
    ("GET", "/api/console/campaigns"): Rule("manager"),
    ("POST", "/api/console/campaigns"): Rule("manager", {"name": "console-made"}),
    ("GET", "/api/console/campaigns/{campaign_id}"): Rule("manager_campaign"),
    ("PATCH", "/api/console/campaigns/{campaign_id}"): Rule("manager_campaign",
                                                            {"ring_timeout_s": 30}),
    ("POST", "/api/console/campaigns/{campaign_id}/mode"): Rule("manager_campaign",
                                                                {"mode": "preview"}),
    ("POST", "/api/console/campaigns/{campaign_id}/start"): Rule("manager_campaign"),
    ("POST", "/api/console/campaigns/{campaign_id}/pause"): Rule("manager_campaign"),
    ("POST", "/api/console/campaigns/{campaign_id}/stop"): Rule("manager_campaign"),
    ("GET", "/api/admin/dashboard"): Rule("admin"),
    # last: logging out revokes the caller's credentials
    ("POST", "/api/auth/logout"): Rule("authenticated"),
}
SOCKETS: dict[str, Rule] = {
    "/ws/agent": Rule("authenticated"),
    "/ws/agent?agent=agent1": Rule("agent_self"),
    "/ws/wallboard": Rule("manager"),
}


def route_table() -> list[tuple[str, str]]:
    """The API routes as ``web.main.build_app`` composes them."""
    routes = [*api_routes(), *dialer_routes(), *monitor_routes(), *console_routes(),
              *status_routes()]
    return [(r.method, r.path) for r in routes]


def _cases() -> list[Any]:
    cases = []
    for (method, path), rule in MATRIX.items():
        for actor in ACTORS:
            marks = ()
            if actor in rule.xfail:
                marks = (pytest.mark.xfail(strict=True, reason=rule.xfail[actor]),)
            cases.append(pytest.param(method, path, actor, marks=marks,
                                      id=f"{method} {path} {actor}"))
    return cases


def _socket_cases() -> list[Any]:
    cases = []
    for path, rule in SOCKETS.items():
        for actor in ACTORS:
            marks = ()
            if actor in rule.xfail:
                marks = (pytest.mark.xfail(strict=True, reason=rule.xfail[actor]),)
            cases.append(pytest.param(path, actor, marks=marks, id=f"WS {path} {actor}"))
    return cases


@dataclass
class World:
    client: TestClient
    crm: CrmService
    tokens: dict[str, str]
    objects: dict[str, str]
    dialer: Dialer

    def headers(self, actor: str) -> dict[str, str]:
        return {} if actor == "anonymous" else {
            "Authorization": f"Bearer {self.tokens[WHO[actor]]}"}


async def _ok(resp: Any) -> Any:
    assert resp.status < 300, (resp.status, await resp.text())
    return await resp.json()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("permissions")
    url = f"sqlite+aiosqlite:///{tmp / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine)
    await crm.reference.seed_dispositions()
    await crm.rules.seed_defaults_if_empty()
    tokens: dict[str, str] = {}
    objects: dict[str, str] = {}
    users = (("agent1", Role.AGENT), ("agent2", Role.AGENT), ("boss", Role.MANAGER),
             ("boss2", Role.MANAGER), ("root", Role.ADMIN), ("dialer", Role.DIALER))
    for name, role in users:
        user = await crm.auth.create_user(name, role, password=PASSWORD)
        tokens[name] = (await crm.auth.issue_token(user.id)).token
        objects[f"user_{name}"] = str(user.id)
    spare = await crm.auth.issue_token(uuid.UUID(objects["user_agent1"]), "spare")
    objects["token_id"] = str(spare.token_id)
    dialer, control, store, bus = await fake_dialer(crm, tmp)
    app = create_crm_app(settings, service=crm, extra_routes=[
        *dialer_routes(), *monitor_routes(), *console_routes(), *status_routes()])
    app[DIALER_KEY] = dialer
    app[MONITOR_KEY] = build_monitor(dialer, control, control.router)  # type: ignore[arg-type]
    app[BUS] = bus
    install_pops(app)
    add_agent_pages(app)
    install_wallboard(app, min_interval_s=0.05)
    app.router.add_static("/static", pages.STATIC_DIR)
    client = TestClient(TestServer(app))
    await client.start_server()
    world = World(client, crm, tokens, objects, dialer)
    try:
        await _build(world)
        yield world
    finally:
        await client.close()
        await dialer.stop()
        await store.close()
        await crm.close()


async def _build(w: World) -> None:
    """Boss's campaign with agent1's call, customer, lead, task, recording, and a live call in
    the dialer; boss's experiment, rule and script; boss2's own campaign."""
    o, c = w.objects, w.client
    mine = await w.crm.campaigns.create({"name": "boss's",
                                         "manager_id": uuid.UUID(o["user_boss"])})
    await w.crm.campaigns.create({"name": "boss2's", "manager_id": uuid.UUID(o["user_boss2"])})
    o["campaign_id"] = str(mine.id)
    for name, phone in (("customer_id", "13800138000"), ("customer_merged", "13800138001"),
                        ("customer_gone", "13800138002"), ("customer_spare", "13800138003")):
        lead = await _ok(await c.post(f"/api/campaigns/{mine.id}/leads", headers=w.headers(
            "manager_own"), json={"phone": phone, "name": name}))
        o[name] = lead["customer_id"]
        o.setdefault("lead_id", lead["lead_id"])
        o.setdefault("number", lead["e164"])
        o["number_spare"] = lead["e164"]
        call_id = f"call-{name}"
        await w.crm.ingest_call_event({
            "event_id": f"{call_id}-b", "call_id": call_id, "type": "bridged",
            "customer_id": lead["customer_id"], "agent_id": "agent1",
            "campaign_id": str(mine.id), "lead_id": lead["lead_id"]})
        await w.crm.ingest_call_event({"event_id": f"{call_id}-e", "call_id": call_id,
                                       "type": "ended", "talk_seconds": 30})
        o.setdefault("call_id", call_id)
    recording = await w.crm.store_recording(o["call_id"], wav())
    o["recording_id"] = str(recording.id)
    task = await _ok(await c.post("/api/tasks", headers=w.headers("agent_own"), json={
        "title": "call back", "customer_id": o["customer_id"]}))
    o["task_id"] = task["id"]
    url = await _ok(await c.post(f"/api/recordings/{o['recording_id']}/url",
                                 headers=w.headers("agent_own")))
    o["token"] = url["url"].rsplit("/", 1)[-1]
    experiment = await _ok(await c.post("/api/experiments", headers=w.headers("manager_own"),
                                        json={"key": "pop-test", "name": "Pop", "feature": "pop",
                                              "unit": "agent", "variants": [
                                                  {"name": "on", "weight": 1},
                                                  {"name": "off", "weight": 1}]}))
    o["experiment_id"] = experiment["id"]
    o["rule_body"] = RULE
    await _ok(await c.post("/api/rules", headers=w.headers("manager_own"), json=RULE))
    o["rule_id"] = RULE["id"]
    script = await _ok(await c.post("/api/scripts", headers=w.headers("manager_own"), json={
        "name": "boss-opening", "body": "Hello", "campaign_id": str(mine.id)}))
    o["script_id"] = script["id"]
    dnc = await _ok(await c.post("/api/dnc", headers=w.headers("admin"),
                                 json={"number": "13500135000"}))
    o["entry_id"] = dnc["id"]
    live = CallAttempt("call-live", str(mine.id), o["lead_id"], o["customer_id"], o["number"],
                       agent_id="agent1", phase=CallPhase.DIALING)
    w.dialer.calls.calls[live.call_id] = live  # a live call of boss's campaign (monitor routes)
    o["live_call_id"] = live.call_id
    o["username"] = "agent1"
    await w.crm.members.add(mine.id, "agent1", None)  # agent1 works boss's campaign
    for ext, name in enumerate(WHO.values(), start=1001):  # everyone's own phone
        await w.crm.members.bind(name, [str(ext)], None)
        o[f"extension_{name}"] = str(ext)
    for name in ("agent3", "agent4"):
        await w.crm.auth.create_user(name, Role.AGENT, password=PASSWORD)
    await w.crm.members.add(mine.id, "agent4", None)
    o["member_spare"] = "agent4"
    o["user_id"] = o["user_agent1"]
    o["version"] = "1"


RULE = {
    "id": "boss-discount", "name": "Discount asked -> quote", "trigger": "in_call",
    "when": {"keyword": ["discount"]},
    "actions": [{"create_task": {"title": {"en": "Send the quote", "zh": "发送报价"},
                                 "due_in": "2h", "priority": "high", "kind": "quote"}}],
}


def _fill(w: World, path: str, rule: Rule) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        return w.objects[rule.params.get(name, name)]
    filled = re.sub(r"\{(\w+)\}", value, path)
    return f"{filled}?{rule.query}" if rule.query else filled


def _body(w: World, rule: Rule, actor: str) -> Any:
    """The rule's body, ``@name`` replaced by the fixture object (``@extension``: the actor's
    own bound extension)."""
    def value(v: Any) -> Any:
        if v == "@extension":
            return w.objects.get(f"extension_{WHO.get(actor)}", "1000")
        return w.objects[v[1:]] if isinstance(v, str) and v.startswith("@") else v

    if isinstance(rule.body, str) and rule.body.startswith("@"):
        return w.objects[rule.body[1:]]
    if isinstance(rule.body, dict):
        return {k: [value(v) for v in val] if isinstance(val, list) else value(val)
                for k, val in rule.body.items()}
    return rule.body


async def test_every_route_has_a_permission_rule() -> None:
    missing = [f"route {m} {p} has no permission rule" for m, p in route_table()
               if (m, p) not in MATRIX]
    assert not missing, "\n".join(missing)
    stale = [f"rule {m} {p} names no route" for m, p in MATRIX if (m, p) not in route_table()]
    assert not stale, "\n".join(stale)
    assert all(rule.kind in RULES for rule in [*MATRIX.values(), *SOCKETS.values()])


async def test_every_openapi_operation_has_a_permission_rule(world: World) -> None:
    doc = await _ok(await world.client.get("/api/openapi.json"))
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    missing = [f"route {m} {p} has no permission rule" for m, p in sorted(operations)
               if (m, p) not in MATRIX]
    assert not missing, "\n".join(missing)
    app_routes = {(r.method, r.resource.canonical) for r in world.client.app.router.routes()
                  if r.resource is not None and r.resource.canonical.startswith("/api/")
                  and r.method != "HEAD"}
    assert app_routes <= set(MATRIX), sorted(app_routes - set(MATRIX))


@pytest.mark.parametrize(("method", "path", "actor"), _cases())
async def test_route_permission(world: World, method: str, path: str, actor: str) -> None:
    rule = MATRIX[(method, path)]
    url = _fill(world, path, rule)
    kwargs: dict[str, Any] = {"headers": world.headers(actor)}
    if rule.body is not None:
        kwargs["json"] = _body(world, rule, actor)
    world.client.session.cookie_jar.clear()  # only the actor's bearer token speaks
    resp = await world.client.request(method, url, **kwargs)
    text = (await resp.read()).decode("utf-8", "replace")
    if actor in RULES[rule.kind]:
        assert resp.status not in (401, 403), f"{actor} refused: {resp.status} {text[:200]}"
    else:
        expected = 401 if actor == "anonymous" else 403
        assert resp.status == expected, f"{actor} got {resp.status}: {text[:200]}"


@pytest.mark.parametrize(("path", "actor"), _socket_cases())
async def test_socket_permission(world: World, path: str, actor: str) -> None:
    rule = SOCKETS[path]
    world.client.session.cookie_jar.clear()
    try:
        ws = await world.client.ws_connect(path, headers=world.headers(actor))
    except WSServerHandshakeError as exc:
        status = exc.status
    else:
        status = 101
        await ws.close()
    if actor in RULES[rule.kind]:
        assert status == 101, f"{actor} refused: {status}"
    else:
        assert status == (401 if actor == "anonymous" else 403), f"{actor} got {status}"


@pytest.mark.parametrize(("actor", "status"), [
    ("manager_other", 404), ("manager_own", 200), ("admin", 200),
])
async def test_agent_page_watching_an_agent(world: World, actor: str, status: int) -> None:
    """Issue 17 finding 4: /agent?agent= (a manager watching an agent's desk) like /ws/agent."""
    world.client.session.cookie_jar.clear()
    resp = await world.client.get("/agent?agent=agent1", headers=world.headers(actor),
                                  allow_redirects=False)
    assert resp.status == status


async def test_call_list_shows_a_manager_only_their_campaigns_calls(world: World) -> None:
    """Issue 17 finding 4: a manager who owns an empty campaign listed every call."""
    world.client.session.cookie_jar.clear()
    seen = {}
    for actor in ("manager_other", "manager_own", "admin"):
        body = await _ok(await world.client.get("/api/calls?limit=200",
                                                headers=world.headers(actor)))
        seen[actor] = {c["call_id"] for c in body["items"]}
    assert world.objects["call_id"] in seen["manager_own"] and seen["manager_own"] <= seen["admin"]
    assert world.objects["call_id"] not in seen["manager_other"]


async def test_customer_list_shows_an_agent_only_their_customers(world: World) -> None:
    """Issue 17 finding 6: an agent listed every customer."""
    world.client.session.cookie_jar.clear()
    seen = {}
    for actor in ("agent_own", "agent_other", "admin"):
        body = await _ok(await world.client.get("/api/customers?limit=200",
                                                headers=world.headers(actor)))
        seen[actor] = {c["id"] for c in body["items"]}
    assert world.objects["customer_id"] in seen["agent_own"] <= seen["admin"]
    assert world.objects["customer_id"] not in seen["agent_other"]
