"""Personal callbacks on the API (issue 13 item 3): the agent lists their own (personal ones
marked), a manager reassigns one to another agent or to the campaign (audited); bad input is a
400 naming the field, other people's campaigns a 403."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from crm.db.models_ops import AuditLog
from crm.domain.enums import AttemptOutcome
from crm.ports import FixedClock
from crm.service import CrmService
from crm.testing import CrmActor


async def _personal(svc: CrmService, agent: CrmActor, manager: CrmActor,
                    clock: FixedClock) -> uuid.UUID:
    """A personal callback ``agent`` set on a call of ``manager``'s campaign, due in an hour."""
    campaign = await svc.campaigns.create({"name": "cb", "manager_id": manager.user_id})
    async for _ in svc.import_leads(campaign.id, [{"name": "王芳", "phone": "13800138021"}]):
        pass
    lead = (await svc.claim_leads(campaign.id, "w", 1))[0]
    await svc.ingest_call_event({"event_id": "cb-b", "call_id": "call-cb", "type": "bridged",
                                 "agent_id": agent.username, "customer_id": str(lead.customer_id),
                                 "campaign_id": str(campaign.id), "lead_id": str(lead.id)})
    await svc.record_attempt(lead.id, AttemptOutcome.ANSWERED, worker="w", call_id="call-cb",
                             disposition="callback", callback_at=clock.now() + timedelta(hours=1),
                             callback_owner=agent.username)
    return lead.id


async def _listed(client: Any, actor: CrmActor) -> list[dict[str, Any]]:
    resp = await client.get("/api/callbacks", headers=actor.headers)
    assert resp.status == 200
    return list((await resp.json())["items"])


async def test_given_personal_callback_when_manager_reassigns_then_new_owner_lists_it_audited(
        crm_client: Any, crm_service: CrmService, crm_actors: dict[str, CrmActor],
        crm_clock: FixedClock) -> None:
    amy, bob, boss = crm_actors["agent"], crm_actors["agent2"], crm_actors["manager"]
    lead_id = await _personal(crm_service, amy, boss, crm_clock)
    [mine] = await _listed(crm_client, amy)
    assert (mine["lead_id"], mine["scope"], mine["owner"]) == (str(lead_id), "personal", "agent")
    assert await _listed(crm_client, bob) == []

    resp = await crm_client.put(f"/api/leads/{lead_id}/callback-owner",
                                json={"owner": "agent2"}, headers=boss.headers)

    assert resp.status == 200 and (await resp.json())["owner"] == "agent2"
    assert [c["owner"] for c in await _listed(crm_client, bob)] == ["agent2"]
    assert await _listed(crm_client, amy) == []  # personal now, and someone else's
    async with crm_service.engine.connect() as conn:
        [(details,)] = (await conn.execute(sa.select(AuditLog.details).where(
            AuditLog.action == "callback.reassign"))).all()
    assert details == {"from": "agent", "to": "agent2"}


async def test_given_personal_callback_when_given_to_campaign_then_scope_campaign(
        crm_client: Any, crm_service: CrmService, crm_actors: dict[str, CrmActor],
        crm_clock: FixedClock) -> None:
    amy, boss = crm_actors["agent"], crm_actors["manager"]
    lead_id = await _personal(crm_service, amy, boss, crm_clock)
    resp = await crm_client.put(f"/api/leads/{lead_id}/callback-owner", json={"owner": None},
                                headers=boss.headers)
    assert resp.status == 200 and (await resp.json())["scope"] == "campaign"
    [still] = await _listed(crm_client, amy)  # she set it: still on her list, as the campaign's
    assert still["scope"] == "campaign"


async def test_given_bad_reassignment_when_put_then_4xx_naming_the_field(
        crm_client: Any, crm_service: CrmService, crm_actors: dict[str, CrmActor],
        crm_clock: FixedClock) -> None:
    amy, boss = crm_actors["agent"], crm_actors["manager"]
    lead_id = await _personal(crm_service, amy, boss, crm_clock)
    url = f"/api/leads/{lead_id}/callback-owner"
    for body, field in (({"owner": "nobody"}, "owner"), ({"owner": "manager"}, "owner"),
                        ({}, "owner"), ({"owner": ""}, "owner"),
                        ({"owner": None, "extra": 1}, "extra")):
        resp = await crm_client.put(url, json=body, headers=boss.headers)
        assert resp.status == 400, body
        assert field in await resp.text(), body
    bad_id = await crm_client.put("/api/leads/not-a-uuid/callback-owner", json={"owner": None},
                                  headers=boss.headers)
    assert bad_id.status == 400 and "lead_id" in await bad_id.text()
    by_agent = await crm_client.put(url, json={"owner": "agent2"}, headers=amy.headers)
    assert by_agent.status == 403
