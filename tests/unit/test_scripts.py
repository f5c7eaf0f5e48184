"""Call scripts (issue 17 finding 5): owned by the manager who made them, of one campaign (or of
every campaign: admins only), edited and deleted through the API by their owner (admins: all),
shown only in the pops of their campaign."""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from ari_app.dialer.bus import EventBus
from ari_app.dialer.events import ScreenPop
from crm.db.models_ops import AuditLog
from crm.domain.enums import Language, Role
from crm.pops import PopHub
from crm.service import CrmService
from crm.services.customers import CustomerInput
from tests.helpers.waiting import eventually
from web.agent.pops import PopBridge


async def _world(crm_service: CrmService, crm_actors: Any) -> dict[str, Any]:
    """manager's campaign "A", manager2's campaign "B", a VIP customer; headers by name."""
    boss2 = await crm_service.auth.create_user("manager2", Role.MANAGER, password="password-1")
    token = (await crm_service.auth.issue_token(boss2.id)).token
    mine = await crm_service.campaigns.create({"name": "A",
                                               "manager_id": crm_actors["manager"].user_id})
    theirs = await crm_service.campaigns.create({"name": "B", "manager_id": boss2.id})
    customer, _ = await crm_service.customers.create(
        CustomerInput("王伟", phones=["13800138090"], tags=["VIP"]))
    return {"a": str(mine.id), "b": str(theirs.id), "customer": customer.id,
            "manager": crm_actors["manager"].headers, "admin": crm_actors["admin"].headers,
            "agent": crm_actors["agent"].headers,
            "manager2": {"Authorization": f"Bearer {token}"}}


def _script(name: str, campaign_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "body": f"{name} body", "language": "zh", "tags": ["VIP"], **extra}
    return body if campaign_id is None else {**body, "campaign_id": campaign_id}


async def test_given_manager_when_adding_script_for_own_campaign_then_created_and_owned(
    crm_client, crm_service, crm_actors
):
    w = await _world(crm_service, crm_actors)
    resp = await crm_client.post("/api/scripts", json=_script("open", w["a"]),
                                 headers=w["manager"])
    body = await resp.json()
    assert resp.status == 201, body
    assert body["campaign_id"] == w["a"] and body["owner_id"] == str(
        crm_actors["manager"].user_id)


async def test_given_manager_when_adding_global_or_other_campaigns_script_then_403_permission(
    crm_client, crm_service, crm_actors
):
    """A manager's script showed in every pop (issue 17 finding 5)."""
    w = await _world(crm_service, crm_actors)
    everyone = await crm_client.post("/api/scripts", json=_script("open"), headers=w["manager"])
    assert everyone.status == 403
    assert (await everyone.json())["details"]["field"] == "campaign_id"
    other = await crm_client.post("/api/scripts", json=_script("open", w["b"]),
                                  headers=w["manager"])
    assert other.status == 403
    agent = await crm_client.post("/api/scripts", json=_script("open", w["a"]), headers=w["agent"])
    assert agent.status == 403
    unknown = await crm_client.post("/api/scripts", json=_script("open", str(uuid.uuid4())),
                                    headers=w["admin"])
    assert unknown.status == 404
    assert (await crm_client.post("/api/scripts", json=_script("open"),
                                  headers=w["admin"])).status == 201
    assert (await crm_client.post("/api/scripts", json=_script("open", w["b"]),
                                  headers=w["admin"])).status == 201


async def test_given_script_names_when_adding_then_unique_per_campaign_and_language(
    crm_client, crm_service, crm_actors
):
    w = await _world(crm_service, crm_actors)
    for who, campaign in (("manager", w["a"]), ("manager2", w["b"]), ("admin", None)):
        resp = await crm_client.post("/api/scripts", json=_script("open", campaign),
                                     headers=w[who])
        assert resp.status == 201, await resp.text()
    again = await crm_client.post("/api/scripts", json=_script("open", w["a"]),
                                  headers=w["manager"])
    assert again.status == 409
    assert (await crm_client.post("/api/scripts", json=_script("open"),
                                  headers=w["admin"])).status == 409


async def test_given_managers_script_when_others_edit_or_delete_then_403_owner_and_admin_may(
    crm_client, crm_service, crm_actors
):
    w = await _world(crm_service, crm_actors)
    made = await (await crm_client.post("/api/scripts", json=_script("open", w["a"]),
                                        headers=w["manager"])).json()
    url = f"/api/scripts/{made['id']}"
    for who in ("manager2", "agent"):
        assert (await crm_client.patch(url, json={"body": "x"}, headers=w[who])).status == 403
        assert (await crm_client.delete(url, headers=w[who])).status == 403
    resp = await crm_client.patch(url, json={"body": "您好", "tags": ["New"], "priority": 3},
                                  headers=w["manager"])
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["body"], body["tags"], body["priority"]) == ("您好", ["New"], 3)
    admin = await crm_client.patch(url, json={"active": False}, headers=w["admin"])
    assert admin.status == 200 and (await admin.json())["owner_id"] == made["owner_id"]
    assert (await crm_client.delete(url, headers=w["manager"])).status == 204
    assert (await crm_client.patch(url, json={"body": "x"}, headers=w["admin"])).status == 404
    async with crm_service.engine.connect() as conn:
        actions = list(await conn.scalars(sa.select(AuditLog.action).where(
            AuditLog.entity_id == made["id"]).order_by(AuditLog.id)))
    assert actions == ["script.created", "script.updated", "script.updated", "script.deleted"]


async def test_given_admin_owned_script_when_manager_edits_then_403_admin_deletes(
    crm_client, crm_service, crm_actors
):
    """A script from before owners were kept (no owner) is admin-owned."""
    w = await _world(crm_service, crm_actors)
    old = await crm_service.reference.add_script(name="old", body="b", language=Language.ZH)
    assert old.owner_id is None
    url = f"/api/scripts/{old.id}"
    assert (await crm_client.patch(url, json={"body": "x"}, headers=w["manager"])).status == 403
    assert (await crm_client.delete(url, headers=w["admin"])).status == 204


async def test_given_bad_script_patch_when_sent_then_400_naming_the_field(
    crm_client, crm_service, crm_actors
):
    w = await _world(crm_service, crm_actors)
    made = await (await crm_client.post("/api/scripts", json=_script("open", w["a"]),
                                        headers=w["manager"])).json()
    await crm_client.post("/api/scripts", json=_script("close", w["a"]), headers=w["manager"])
    url = f"/api/scripts/{made['id']}"
    for patch, field in (({"name": ""}, "name"), ({"language": "fr"}, "language"),
                         ({"colour": "red"}, "colour"), ({"body": " "}, "body")):
        resp = await crm_client.patch(url, json=patch, headers=w["manager"])
        assert resp.status == 400, (patch, await resp.text())
        assert (await resp.json())["details"]["field"] == field
    taken = await crm_client.patch(url, json={"name": "close"}, headers=w["manager"])
    assert taken.status == 409
    bad_id = await crm_client.delete("/api/scripts/nope", headers=w["manager"])
    assert bad_id.status == 400 and (await bad_id.json())["details"]["field"] == "script_id"


async def test_given_campaign_script_when_popping_another_campaign_then_not_shown(
    crm_client, crm_service, crm_actors
):
    """A script of manager2's campaign showed in every pop (issue 17 finding 5)."""
    w = await _world(crm_service, crm_actors)
    await crm_client.post("/api/scripts", json=_script("theirs", w["b"], priority=9),
                          headers=w["manager2"])
    await crm_client.post("/api/scripts", json=_script("everyone", priority=1),
                          headers=w["admin"])
    in_a = await crm_service.customer_summary(w["customer"], campaign_id=w["a"])
    in_b = await crm_service.customer_summary(w["customer"], campaign_id=w["b"])
    no_campaign = await crm_service.customer_summary(w["customer"])
    assert in_a["recommended_script"]["name"] == "everyone"
    assert no_campaign["recommended_script"]["name"] == "everyone"
    assert in_b["recommended_script"]["name"] == "theirs"


async def test_given_rule_recommended_script_of_another_campaign_when_popping_then_not_shown(
    crm_client, crm_service, crm_actors
):
    """The pre-call rule ``script-vip`` recommends ``vip_greeting`` by name: only a template of
    the pop's campaign (or of every campaign) answers it."""
    w = await _world(crm_service, crm_actors)
    await crm_service.rules.seed_defaults_if_empty()
    rec = await crm_service.live.recommended_script(["VIP"])
    assert rec is not None
    await crm_client.post("/api/scripts", json=_script(rec["script"], w["b"]),
                          headers=w["manager2"])
    in_a = await crm_service.customer_summary(w["customer"], campaign_id=w["a"])
    in_b = await crm_service.customer_summary(w["customer"], campaign_id=w["b"])
    assert in_b["recommended_script"]["name"] == rec["script"]
    assert in_b["recommended_script"]["rule_id"] == rec["rule_id"]
    assert in_a["recommended_script"] is None


async def test_given_pops_of_two_campaigns_when_bridged_then_each_shows_its_campaigns_script(
    crm_client, crm_service, crm_actors
):
    w = await _world(crm_service, crm_actors)
    await crm_client.post("/api/scripts", json=_script("a-open", w["a"]), headers=w["manager"])
    await crm_client.post("/api/scripts", json=_script("b-open", w["b"]), headers=w["manager2"])
    bus, hub = EventBus(), PopHub()
    bridge = PopBridge(bus, hub, crm_service)
    bridge.start()
    try:
        for agent, campaign in (("agent-a", w["a"]), ("agent-b", w["b"])):
            bus.publish(ScreenPop(agent, f"call-{agent}", str(w["customer"]), "lead-1",
                                  campaign, "+8613800138090", "ringing", time.time()))
        await eventually(lambda: hub.current("agent-a") and hub.current("agent-b"))
        shown = {agent: hub.current(agent)[0]["customer"]["recommended_script"]["name"]
                 for agent in ("agent-a", "agent-b")}
    finally:
        await bridge.stop()
    assert shown == {"agent-a": "a-open", "agent-b": "b-open"}


async def test_given_campaign_scripts_when_listing_then_only_the_callers_campaigns_and_global(
    crm_client, crm_service, crm_actors
):
    """Managers and agents are scoped to their campaigns (issue 17 finding 4): the list shows
    every campaign's scripts and those of the caller's campaigns (managed / a member of)."""
    w = await _world(crm_service, crm_actors)
    await crm_client.post("/api/scripts", json=_script("a-open", w["a"]), headers=w["manager"])
    await crm_client.post("/api/scripts", json=_script("b-open", w["b"]), headers=w["manager2"])
    await crm_client.post("/api/scripts", json=_script("everyone"), headers=w["admin"])
    await crm_service.members.add(uuid.UUID(w["a"]), "agent", actor_id=None)
    w["agent2"] = crm_actors["agent2"].headers
    seen = {}
    for who in ("manager", "manager2", "agent", "agent2", "admin"):
        resp = await crm_client.get("/api/scripts", headers=w[who])
        seen[who] = {s["name"] for s in (await resp.json())["items"]}
    assert seen == {"manager": {"a-open", "everyone"}, "manager2": {"b-open", "everyone"},
                    "agent": {"a-open", "everyone"}, "agent2": {"everyone"},
                    "admin": {"a-open", "b-open", "everyone"}}
