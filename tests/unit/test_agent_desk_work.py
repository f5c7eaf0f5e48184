"""The agent desk's work on the API (issue 13 item 9): the callbacks an agent set (theirs only,
with the customer, soonest first, overdue marked), the customer beside each task, the notes in
the pop's summary, the wrap-up deadline pushed with the state, the callback error said in
Chinese."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from ari_app.dialer.errors import InvalidRequest
from ari_app.dialer.events import AgentStateChanged
from ari_app.dialer.model import AgentSession, AgentState, CampaignConfig
from ari_app.dialer.wrapup import WrapUp
from crm.domain.enums import AttemptOutcome
from crm.http.messages import error_message
from crm.ports import FixedClock
from crm.service import CrmService
from crm.services.customers import CustomerInput
from crm.services.work import TaskInput
from crm.testing import CrmActor
from web.agent.pops import agent_state_message


async def _called_back(svc: CrmService, agent: CrmActor, manager: CrmActor, phone: str,
                       name: str, due: timedelta, clock: FixedClock) -> uuid.UUID:
    """A lead whose call ``agent`` took and set a callback ``due`` from now."""
    campaign = await svc.campaigns.create({"name": f"c-{phone}", "manager_id": manager.user_id})
    async for _ in svc.import_leads(campaign.id, [{"name": name, "phone": phone}]):
        pass
    lead = (await svc.claim_leads(campaign.id, "w", 1))[0]
    call_id = f"call-{phone}"
    await svc.ingest_call_event({"event_id": f"{call_id}-b", "call_id": call_id,
                                 "type": "bridged", "agent_id": agent.username,
                                 "customer_id": str(lead.customer_id),
                                 "campaign_id": str(campaign.id), "lead_id": str(lead.id)})
    await svc.record_attempt(lead.id, AttemptOutcome.ANSWERED, worker="w", call_id=call_id,
                             disposition="callback", callback_at=clock.now() + due)
    return lead.id


async def test_given_callbacks_set_when_agent_lists_then_own_soonest_first_overdue_marked(
        crm_client: Any, crm_service: CrmService, crm_actors: dict[str, CrmActor],
        crm_clock: FixedClock) -> None:
    agent, other, boss = crm_actors["agent"], crm_actors["agent2"], crm_actors["manager"]
    later = await _called_back(crm_service, agent, boss, "13800138011", "李娜",
                               timedelta(hours=3), crm_clock)
    soon = await _called_back(crm_service, agent, boss, "13800138012", "王伟",
                              timedelta(minutes=30), crm_clock)
    await _called_back(crm_service, other, boss, "13800138013", "张敏", timedelta(hours=1),
                       crm_clock)
    crm_clock.advance(timedelta(hours=1))  # the 30-minute one is now overdue

    resp = await crm_client.get("/api/callbacks", headers=agent.headers)
    body = await resp.json()

    assert resp.status == 200
    assert [c["lead_id"] for c in body["items"]] == [str(soon), str(later)]
    assert [c["customer_name"] for c in body["items"]] == ["王伟", "李娜"]
    assert [c["overdue"] for c in body["items"]] == [True, False]
    assert body["items"][0]["phone"] == "+8613800138012"
    manager = await (await crm_client.get("/api/callbacks", headers=boss.headers)).json()
    assert len(manager["items"]) == 3
    refused = await crm_client.get(f"/api/callbacks?agent_id={other.user_id}",
                                   headers=agent.headers)
    assert refused.status == 403
    bad = await crm_client.get("/api/callbacks?limit=0", headers=agent.headers)
    assert bad.status == 400 and "limit" in (await bad.text())


async def test_given_tasks_of_customers_when_agent_lists_then_each_names_its_customer(
        crm_client: Any, crm_service: CrmService, crm_actors: dict[str, CrmActor]) -> None:
    agent = crm_actors["agent"]
    for name in ("王伟", "李娜"):
        customer, _ = await crm_service.customers.create(CustomerInput(name=name, phones=[]))
        await crm_service.work.create_task(TaskInput(
            title="24小时内发送报价", customer_id=customer.id, owner_id=agent.user_id))

    page = await (await crm_client.get("/api/tasks?status=open", headers=agent.headers)).json()

    assert sorted(t["customer_name"] for t in page["items"]) == ["李娜", "王伟"]


async def test_given_note_saved_when_customer_popped_again_then_note_in_summary(
        crm_service: CrmService) -> None:
    customer, _ = await crm_service.customers.create(CustomerInput(name="王伟", phones=[]))
    await crm_service.work.add_note(customer.id, "客户说价格太贵，下周再联系", call_id="c1")

    pop = await crm_service.customer_summary(customer.id)

    assert [n["body"] for n in pop["recent_notes"]] == ["客户说价格太贵，下周再联系"]


def test_given_campaign_limit_when_agent_in_wrap_up_then_deadline_is_since_plus_limit() -> None:
    wrap = WrapUp(None, None, None, None,  # type: ignore[arg-type]
                  lambda cid: CampaignConfig(cid, name="c", wrap_up_limit_s=45),
                  lambda coro, name: None)
    session = AgentSession("a", "1001", "c", "leg", bridge_id="b", since=1000.0)
    session.state = AgentState.WRAP_UP
    assert wrap.deadline(session) == 1045.0
    session.state = AgentState.READY
    assert wrap.deadline(session) is None
    message = agent_state_message(AgentStateChanged("a", "c", AgentState.ON_CALL,
                                                    AgentState.WRAP_UP, 1000.0, until=1045.0))
    assert message["until"] == 1045.0  # what the page counts down to


@pytest.mark.parametrize("why", ["a callback needs a date and time", "must be in the future"])
def test_given_callback_refused_when_said_in_chinese_then_no_field_code(why: str) -> None:
    english = str(InvalidRequest("callback_at", why))
    said = error_message("zh", "invalid_request", english, {"field": "callback_at"})
    assert "callback_at" not in said and "回拨" in said
