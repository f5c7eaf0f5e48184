"""Campaign membership and extension binding (issue 17 finding 7: "an agent logs into any
campaign with any extension"): the login refuses a non-member and a phone not bound to the
caller; managers keep their campaigns' members and their agents' extensions."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from crm.db.engine import make_engine
from crm.db.models_members import AgentExtension, CampaignMember
from crm.db.models_ops import AuditLog, Campaign, User
from crm.db.types import UtcDateTime
from crm.domain.access import Principal, may_join_campaign, may_use_extension
from crm.domain.enums import Role
from crm.errors import ExtensionNotBoundError, NotCampaignMemberError
from crm.migrations import upgrade
from tests.helpers.web_apps import Api, console_app
from web.demo import AGENT_EXTENSIONS, Demo

MISSING = "3f1d7c1e-0000-4000-8000-000000000000"


def _login(api: Api, extension: str = "1001", campaign_id: str | None = None) -> dict[str, Any]:
    return {"extension": extension, "campaign_id": campaign_id or api.campaign_id}


async def _other_campaign(api: Api, manager: str = "boss2") -> str:
    status, body = await api.call("POST", "/api/campaigns", who=manager, body={"name": "other"})
    assert status == 201, body
    return str(body["id"])


async def test_given_agent_not_a_member_when_login_then_403_naming_campaign(api: Api) -> None:
    other = await _other_campaign(api)
    status, body = await api.call("POST", "/api/agent/login", body=_login(api, campaign_id=other))
    assert status == 403, body
    assert body["error"] == "not_campaign_member"
    assert body["details"] == {"field": "campaign_id", "campaign_id": other}
    assert api.control.verbs("originate") == [], "no phone rang"


async def test_given_unbound_extension_when_login_then_403_naming_extension(api: Api) -> None:
    status, body = await api.call("POST", "/api/agent/login", body=_login(api, "1777"))
    assert status == 403, body
    assert body["error"] == "extension_not_bound"
    assert body["details"] == {"field": "extension", "extension": "1777", "reason": "unbound"}


async def test_given_another_agents_extension_when_login_then_403_without_naming_them(
    api: Api,
) -> None:
    await api.user("agent2", Role.AGENT)
    await api.crm.members.add(uuid.UUID(api.campaign_id), "agent2", None)
    await api.crm.members.bind("agent2", ["1002"], None)
    status, body = await api.call("POST", "/api/agent/login", who="agent2", body=_login(api))
    assert status == 403, body
    assert body["details"]["reason"] == "bound_to_another_user"
    assert "agent1" not in str(body)
    status, body = await api.call("POST", "/api/agent/login", who="agent2",
                                  body=_login(api, "1002"))
    assert status == 200 and body["state"] == "ready", body


async def test_given_chinese_client_when_login_refused_then_reason_said_in_chinese(
    api: Api,
) -> None:
    resp = await api.client.post("/api/agent/login", json=_login(api, "1777"), headers={
        "Authorization": f"Bearer {api.tokens['agent1']}", "Accept-Language": "zh-CN"})
    body = await resp.json()
    assert resp.status == 403 and "分机 1777 未绑定" in body["message"], body


async def test_given_member_removed_when_login_then_refused(api: Api) -> None:
    status, _ = await api.call("DELETE", f"/api/campaigns/{api.campaign_id}/members/agent1",
                               who="boss")
    assert status == 200
    status, body = await api.call("POST", "/api/agent/login", body=_login(api))
    assert status == 403 and body["error"] == "not_campaign_member"


async def test_given_managers_and_admin_when_login_then_own_campaign_and_own_phone_only(
    api: Api,
) -> None:
    for who, ext in (("boss", "1101"), ("boss2", "1102"), ("root", "1103")):
        status, _ = await api.call("PUT", f"/api/agents/{who}/extensions", who=who,
                                   body={"extensions": [ext]})
        assert status == 200, who
    status, body = await api.call("POST", "/api/agent/login", who="boss2",
                                  body=_login(api, "1102"))
    assert status == 403 and body["error"] == "not_campaign_member", "not boss2's campaign"
    status, body = await api.call("POST", "/api/agent/login", who="root", body=_login(api))
    assert status == 403 and body["error"] == "extension_not_bound", "admins: their own phone"
    for who, ext in (("boss", "1101"), ("root", "1103")):
        status, body = await api.call("POST", "/api/agent/login", who=who,
                                      body=_login(api, ext))
        assert status == 200, (who, body)


async def test_given_unknown_campaign_when_login_then_404_before_membership(api: Api) -> None:
    status, body = await api.call("POST", "/api/agent/login",
                                  body=_login(api, campaign_id=MISSING))
    assert status == 404, body


# --- the members API ----------------------------------------------------------------------


async def test_given_manager_when_adding_and_removing_members_then_listed_with_extensions(
    api: Api,
) -> None:
    await api.user("agent2", Role.AGENT)
    await api.crm.members.bind("agent2", ["1002", "1012"], None)
    url = f"/api/campaigns/{api.campaign_id}/members"
    status, added = await api.call("POST", url, who="boss", body={"username": "agent2"})
    assert status == 201 and added["extensions"] == ["1002", "1012"], added
    status, listed = await api.call("GET", url, who="boss")
    assert status == 200
    assert [(m["username"], m["extensions"]) for m in listed["items"]] == [
        ("agent1", ["1001", "1099"]), ("agent2", ["1002", "1012"])]
    status, body = await api.call("POST", url, who="boss", body={"username": "agent2"})
    assert status == 409 and body["details"]["field"] == "username", body
    assert (await api.call("DELETE", f"{url}/agent2", who="boss"))[0] == 200
    status, body = await api.call("DELETE", f"{url}/agent2", who="boss")
    assert status == 404, body
    status, listed = await api.call("GET", url, who="root")
    assert [m["username"] for m in listed["items"]] == ["agent1"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "username"),
    ({"username": ""}, "username"),
    ({"username": "agent1", "role": "x"}, "role"),
    ({"username": "nobody"}, "username"),
    ({"username": "root"}, "username"),  # an admin logs into every campaign: not a member
])
async def test_given_bad_member_body_then_400_naming_field(api: Api, body: Any,
                                                           field: str) -> None:
    status, answer = await api.call("POST", f"/api/campaigns/{api.campaign_id}/members",
                                    who="boss", body=body)
    assert status == 400, answer
    assert answer["details"]["field"] == field, answer


async def test_given_another_managers_campaign_when_members_changed_then_403(api: Api) -> None:
    url = f"/api/campaigns/{api.campaign_id}/members"
    for method, path, body in (("GET", url, None), ("POST", url, {"username": "agent1"}),
                               ("DELETE", f"{url}/agent1", None)):
        status, answer = await api.call(method, path, who="boss2", body=body)
        assert status == 403, (method, answer)
        assert (await api.call(method, path, who="agent1", body=body))[0] == 403
    status, _ = await api.call("GET", f"/api/campaigns/{MISSING}/members", who="boss")
    assert status == 404
    status, body = await api.call("GET", "/api/campaigns/nope/members", who="boss")
    assert status == 400 and body["details"]["field"] == "campaign_id"


# --- the extensions API -------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({}, "extensions"),
    ({"extensions": "1001"}, "extensions"),
    ({"extensions": ["10a1"]}, "extensions.0"),
    ({"extensions": ["1"]}, "extensions.0"),
    ({"extensions": [str(1200 + i) for i in range(6)]}, "extensions"),
    ({"extensions": [], "user": "x"}, "user"),
])
async def test_given_bad_extensions_body_then_400_naming_field(api: Api, body: Any,
                                                               field: str) -> None:
    status, answer = await api.call("PUT", "/api/agents/agent1/extensions", who="boss",
                                    body=body)
    assert status == 400, answer
    assert answer["details"]["field"] == field, answer


async def test_given_extension_bound_to_another_when_bound_then_409_naming_it(api: Api) -> None:
    await api.user("agent2", Role.AGENT)
    status, body = await api.call("PUT", "/api/agents/agent2/extensions", who="root",
                                  body={"extensions": ["1002", "1099"]})
    assert status == 409, body
    assert body["details"] == {"field": "extensions", "extension": "1099"}
    assert await api.crm.members.extensions_of(await _id(api, "agent2")) == []
    status, body = await api.call("PUT", "/api/agents/agent1/extensions", who="boss",
                                  body={"extensions": ["1001"]})  # 1099 unbound...
    assert status == 200 and body == {"username": "agent1", "extensions": ["1001"]}
    status, body = await api.call("PUT", "/api/agents/agent2/extensions", who="root",
                                  body={"extensions": ["1099", "1002", "1002"]})
    assert status == 200 and body["extensions"] == ["1002", "1099"]  # ... and free again


async def test_given_agent_of_another_managers_campaign_when_binding_then_403(api: Api) -> None:
    """agent1 is a member of boss's campaign only: boss binds their phones, boss2 does not;
    nobody but an admin binds another manager's; an agent binds none."""
    body = {"extensions": ["1001"]}
    assert (await api.call("PUT", "/api/agents/agent1/extensions", who="boss2",
                           body=body))[0] == 403
    assert (await api.call("PUT", "/api/agents/boss2/extensions", who="boss",
                           body={"extensions": ["1300"]}))[0] == 403
    assert (await api.call("PUT", "/api/agents/agent1/extensions", who="agent1",
                           body=body))[0] == 403
    assert (await api.call("PUT", "/api/agents/boss2/extensions", who="root",
                           body={"extensions": ["1300"]}))[0] == 200
    status, _ = await api.call("PUT", "/api/agents/nobody/extensions", who="root", body=body)
    assert status == 404


async def test_given_membership_when_seniority_set_then_only_the_campaigns_manager(
    api: Api,
) -> None:
    """One policy: a member of boss's campaign (no call yet) is boss's agent, not boss2's."""
    body = {"seniority": "senior"}
    assert (await api.call("PUT", "/api/agents/agent1/seniority", who="boss2",
                           body=body))[0] == 403
    assert (await api.call("PUT", "/api/agents/agent1/seniority", who="boss",
                           body=body))[0] == 200


async def test_given_agent_not_a_member_when_listing_campaign_leads_then_403(api: Api) -> None:
    other = await _other_campaign(api)
    status, body = await api.call("GET", f"/api/campaigns/{other}/leads")
    assert status == 403 and body["error"] == "not_campaign_member", body
    status, _ = await api.call("GET", f"/api/campaigns/{api.campaign_id}/leads")
    assert status == 200


async def test_given_changes_when_made_then_audited(api: Api) -> None:
    await api.call("DELETE", f"/api/campaigns/{api.campaign_id}/members/agent1", who="boss")
    await api.call("PUT", "/api/agents/agent1/extensions", who="boss", body={"extensions": []})
    async with api.crm.engine.connect() as conn:
        actions = set((await conn.scalars(sa.select(AuditLog.__table__.c.action))).all())
    assert {"campaign.member_removed", "agent.extensions_bound"} <= actions


async def _id(api: Api, username: str) -> uuid.UUID:
    status, body = await api.call("GET", "/api/users", who="root")
    return uuid.UUID(next(u["id"] for u in body["items"] if u["username"] == username))


# --- existing data ------------------------------------------------------------------------


async def test_given_calls_before_membership_when_upgrading_then_their_agents_become_members(
    tmp_path: Path,
) -> None:
    """The migration makes explicit what agents already did (took a campaign's calls); nobody
    else becomes a member, and no extension is guessed."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    before = _MEMBERS_MIGRATION.down_revision
    assert before is not None
    await asyncio.to_thread(upgrade, url, before)
    worked, idle, boss, campaign = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for user_id, name, role in ((worked, "worked", "agent"), (idle, "idle", "agent"),
                                        (boss, "boss", "manager")):
                await conn.execute(sa.insert(User.__table__).values(
                    id=user_id, username=name, display_name=name, role=role, active=True,
                    created_at=now))
            await conn.execute(sa.insert(Campaign.__table__).values(
                id=campaign, name="old", manager_id=boss, created_at=now))
            for n in range(2):
                await conn.execute(sa.insert(_CALLS).values(
                    call_id=f"c{n}", campaign_id=campaign, agent_id=worked, state="ended",
                    event_count=1, updated_at=now))
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as conn:
            members = (await conn.execute(sa.select(
                CampaignMember.__table__.c.campaign_id, CampaignMember.__table__.c.user_id))).all()
            bound = (await conn.execute(sa.select(AgentExtension.__table__))).all()
    finally:
        await engine.dispose()
    assert members == [(campaign, worked)]
    assert bound == []


_MEMBERS_MIGRATION = importlib.import_module(
    "crm.migrations.versions.0012_campaign_members")
_CALLS = sa.table(  # calls as far as the migration reads them
    "calls", sa.column("call_id", sa.String()), sa.column("campaign_id", sa.Uuid()),
    sa.column("agent_id", sa.Uuid()), sa.column("state", sa.String()),
    sa.column("event_count", sa.Integer()), sa.column("updated_at", UtcDateTime()))


# --- the agent's desk -----------------------------------------------------------------------


async def test_given_agent_desk_when_opened_then_only_member_campaigns_and_own_extension(
    tmp_path: Path,
) -> None:
    """The desk offers the campaigns the agent may log into (it listed every active one) and
    fills in the extension bound to them."""
    async with console_app(tmp_path) as (app, crm, _dialer, tokens):
        boss_id, _ = await crm.members.desk_user("boss")
        theirs = await crm.campaigns.create({"name": "团队活动", "manager_id": boss_id})
        await crm.campaigns.create({"name": "别人的活动 other team"})
        await crm.members.add(theirs.id, "agent1", None)
        await crm.members.bind("agent1", ["1031"], None)
        async with TestClient(TestServer(app)) as client:
            pages = {}
            for who in ("agent1", "boss2", "root"):
                resp = await client.get("/agent?lang=en",
                                        headers={"Authorization": f"Bearer {tokens[who]}"})
                assert resp.status == 200
                pages[who] = await resp.text()
    assert "团队活动" in pages["agent1"] and "别人的活动" not in pages["agent1"]
    assert 'value="1031"' in pages["agent1"]
    assert "团队活动" not in pages["boss2"] and "别人的活动" not in pages["boss2"]
    assert "not a member of an active campaign" in pages["boss2"]
    assert "团队活动" in pages["root"] and "别人的活动" in pages["root"]


async def test_given_demo_seeding_when_run_twice_then_agents_are_members_with_their_phones(
    tmp_path: Path,
) -> None:
    """``make demo``: its agents log in on their own phones into the demo campaign (seeded,
    idempotently: the demo restarts on the same database)."""
    async with console_app(tmp_path, seed=False) as (app, crm, dialer, _tokens):
        demo = Demo(crm, dialer, app)
        campaign_id = await demo.prepare()
        for _ in range(2):
            await demo.seed_desks(campaign_id)
        members = await crm.members.in_campaign(uuid.UUID(campaign_id))
    assert [(m["username"], m["extensions"]) for m in members] == [
        (f"agent{e}", [e]) for e in AGENT_EXTENSIONS]


# --- the policy, pure -------------------------------------------------------------------------


@dataclass
class _Campaign:
    id: uuid.UUID
    manager_id: uuid.UUID | None


@pytest.mark.parametrize(("role", "manages", "member", "allowed"), [
    (Role.AGENT, False, True, True),
    (Role.AGENT, False, False, False),
    (Role.MANAGER, True, False, True),
    (Role.MANAGER, False, False, False),
    (Role.MANAGER, False, True, True),
    (Role.ADMIN, False, False, True),
    (Role.DIALER, False, False, False),
])
def test_given_role_and_membership_when_joining_campaign_then_policy_decides(
    role: Role, manages: bool, member: bool, allowed: bool,
) -> None:
    who = Principal(uuid.uuid4(), "u", role)
    campaign = _Campaign(uuid.uuid4(), who.user_id if manages else None)
    if allowed:
        may_join_campaign(who, campaign, member=member)
    else:
        with pytest.raises(NotCampaignMemberError):
            may_join_campaign(who, campaign, member=member)


def test_given_extension_holders_when_using_extension_then_only_ones_own() -> None:
    who = Principal(uuid.uuid4(), "u", Role.ADMIN)
    may_use_extension(who, "1001", who.user_id)
    for holder, reason in ((None, "unbound"), (uuid.uuid4(), "bound_to_another_user")):
        with pytest.raises(ExtensionNotBoundError) as refused:
            may_use_extension(who, "1001", holder)
        assert refused.value.details["reason"] == reason
