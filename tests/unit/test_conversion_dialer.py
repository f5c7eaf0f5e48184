"""Conversion routing in the dialer: senior-route leads go to ready senior agents first,
standard leads prefer the others, and nobody waits for routing (fakes of the ports)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.dialer.ports import Lead
from ari_app.dialer.routing import pair_leads, pick_agent
from ari_app.dialer.store import DialerStore
from tests.helpers.dialer_fakes import Clock, FakeControl, FakeCrm, customer_answers, until
from tests.helpers.web_apps import Api


@dataclass
class _A:
    name: str
    senior: bool


@dataclass
class _L:
    name: str
    route: str | None


def test_given_ready_agents_when_picking_then_senior_route_prefers_senior_else_longest_idle(
) -> None:
    std1, std2, sen = _A("std1", False), _A("std2", False), _A("sen", True)
    assert pick_agent([std1, sen, std2], "senior") is sen
    assert pick_agent([sen, std1, std2], "standard") is std1
    assert pick_agent([sen, std1], None) is std1  # unscored leads are standard
    assert pick_agent([std1, std2], "senior") is std1  # no senior ready: the longest idle
    assert pick_agent([sen], "standard") is sen  # nobody is left waiting for routing
    assert pick_agent([], "senior") is None


def test_given_leads_and_agents_when_pairing_then_each_senior_lead_gets_a_senior_if_any() -> None:
    std, sen1, sen2 = _A("std", False), _A("sen1", True), _A("sen2", True)
    leads = [_L("a", "standard"), _L("b", "senior"), _L("c", "senior")]
    pairs = {lead.name: agent.name for agent, lead in pair_leads([std, sen1, sen2], leads)}
    assert pairs == {"b": "sen1", "c": "sen2", "a": "std"}
    pairs = {lead.name: agent.name for agent, lead in pair_leads([sen1, std], leads[:2])}
    assert pairs == {"b": "sen1", "a": "std"}
    # more senior leads than seniors: the rest still get an agent
    pairs = {lead.name: agent.name for agent, lead in pair_leads([std, sen1], leads[1:])}
    assert pairs == {"b": "sen1", "c": "std"}
    assert len(pair_leads([std], leads)) == 1  # leads beyond the agents stay unpaired


def _lead(n: int, route: str | None) -> Lead:
    return Lead(f"lead{n}", "c1", f"cust{n}", f"+86138001380{n:02d}", route=route,
                p_convert=0.5 if route == "senior" else 0.1)


@pytest.fixture
async def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = FakeCrm([])
    dialer = Dialer(control, store, crm, crm, EventBus(), Clock(), worker="w1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    yield dialer, control, crm
    await dialer.stop()
    await store.close()


async def _two_agents(dialer: Dialer) -> None:
    """``std`` logs in first (the longest idle), then the senior ``sen``."""
    await dialer.login("std", "1001", "c1")
    await dialer.login("sen", "1002", "c1", senior=True)
    assert dialer.agent_view("sen").seniority == "senior"
    assert dialer.agent_view("std").seniority == "standard"


def _customer_originates(control: FakeControl) -> list[tuple[Any, ...]]:
    return [v for v in control.verbs("originate") if v[2] == "customer"]


async def test_given_progressive_when_senior_lead_then_reserved_for_the_senior_not_longest_idle(
    world,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = world
    await _two_agents(dialer)
    crm.leads.extend([_lead(1, "senior")])
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await until(lambda: _customer_originates(control))
    call_id = _customer_originates(control)[0][1]
    assert dialer.agents.sessions["sen"].state is AgentState.RESERVED
    assert dialer.agents.sessions["std"].state is AgentState.READY
    assert dialer.calls.calls[call_id].route == "senior"
    await customer_answers(control, call_id)
    assert ("add_to_bridge", ("agentbridge-sen", call_id)) in control.log


async def test_given_progressive_when_standard_lead_then_non_senior_even_if_senior_idles_longer(
    world,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = world
    await dialer.login("sen", "1002", "c1", senior=True)  # the longest idle this time
    await dialer.login("std", "1001", "c1")
    crm.leads.extend([_lead(1, "standard")])
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await until(lambda: _customer_originates(control))
    assert dialer.agents.sessions["std"].state is AgentState.RESERVED
    assert dialer.agents.sessions["sen"].state is AgentState.READY


async def test_given_predictive_when_senior_lead_answers_then_bridged_to_ready_senior(
    world,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = world
    await _two_agents(dialer)
    crm.leads.extend([_lead(1, "senior")])
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PREDICTIVE, pacing="ratio",
                                               dial_ratio=1.0))
    await until(lambda: _customer_originates(control))
    call_id = _customer_originates(control)[0][1]
    assert dialer.calls.calls[call_id].agent_id is None  # predictive: nobody reserved
    await customer_answers(control, call_id)
    assert ("add_to_bridge", ("agentbridge-sen", call_id)) in control.log
    assert dialer.agents.sessions["sen"].state is AgentState.ON_CALL
    assert dialer.agents.sessions["std"].state is AgentState.READY


async def test_given_predictive_and_no_senior_ready_when_senior_lead_answers_then_any_agent(
    world,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = world
    await _two_agents(dialer)
    await dialer.pause("sen", "break")
    crm.leads.extend([_lead(1, "senior")])
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PREDICTIVE, pacing="ratio",
                                               dial_ratio=1.0))
    await until(lambda: _customer_originates(control))
    call_id = _customer_originates(control)[0][1]
    await customer_answers(control, call_id)
    assert ("add_to_bridge", ("agentbridge-std", call_id)) in control.log  # not abandoned
    assert not control.verbs("play")
    assert dialer.calls.counters["c1"].abandons == 0


async def test_given_manager_sets_senior_when_agent_logs_in_over_http_then_session_is_senior(
    api: Api,
) -> None:
    login = {"extension": "1001", "campaign_id": api.campaign_id}
    status, body = await api.call("POST", "/api/agent/login", body=login)
    assert status == 200 and body["seniority"] == "standard"
    assert (await api.call("POST", "/api/agent/logout"))[0] == 200
    status, _ = await api.call("PUT", "/api/agents/agent1/seniority", who="boss",
                               body={"seniority": "senior"})
    assert status == 200
    status, body = await api.call("POST", "/api/agent/login", body=login)
    assert status == 200 and body["seniority"] == "senior"


async def test_given_agent_hangs_up_while_progressive_calls_placed_then_lead_kept_no_phantom_call(
    world,  # type: ignore[no-untyped-def]
) -> None:
    """Both agents reserved with a lead each; while the first call is being originated the
    other agent's phone hangs up (logged out): their lead goes back to the hopper, and no call
    is left on record that was never originated."""
    dialer, control, crm = world
    await _two_agents(dialer)
    crm.leads.extend([_lead(1, "standard"), _lead(2, "senior")])
    originate = control.originate

    async def hang_up_the_other(endpoint: str, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("app_args") == "customer":
            for session in dialer.agents.sessions.values():
                if session.state is AgentState.RESERVED and session.call_id is None:
                    session.state = AgentState.LOGGED_OUT  # the hang-up, seen meanwhile
        return await originate(endpoint, **kwargs)

    control.originate = hang_up_the_other  # type: ignore[method-assign]
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await until(lambda: _customer_originates(control))
    originated = {v[1] for v in _customer_originates(control)}
    assert len(originated) == 1
    assert set(dialer.calls.calls) == originated, "a call on record was never originated"
    runner = dialer.runners["c1"]
    placed = dialer.calls.calls[next(iter(originated))].lead_id
    assert [lead.lead_id for lead in runner.hopper.leads] == [
        lead for lead in ("lead1", "lead2") if lead != placed], "the other lead was lost"


async def test_given_agent_store_fails_while_reserving_then_leads_kept_and_agents_ready(
    world,  # type: ignore[no-untyped-def]
) -> None:
    """The second agent's move to reserved fails (its store write): the first agent is not left
    reserved for a call never placed, and neither claimed lead is dropped."""
    dialer, control, crm = world
    await _two_agents(dialer)
    desk_move = dialer.agents.move
    failures = []

    async def failing_move(session: Any, to: AgentState, **kwargs: Any) -> None:
        reserved = [s for s in dialer.agents.sessions.values() if s.state is AgentState.RESERVED]
        if to is AgentState.RESERVED and reserved and not failures:
            failures.append(session.agent_id)
            raise OSError("disk I/O error")
        await desk_move(session, to, **kwargs)

    dialer.agents.move = failing_move  # type: ignore[method-assign]
    runner_leads = [_lead(1, "standard"), _lead(2, "standard")]
    crm.leads.extend(runner_leads)
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await until(lambda: failures)
    await until(lambda: len(_customer_originates(control)) == 2)  # the next step dials both

    placed = sorted(c.lead_id for c in dialer.calls.calls.values())
    assert placed == ["lead1", "lead2"], "a claimed lead was dropped by the failed step"
    assert all(s.state is AgentState.RESERVED and s.call_id
               for s in dialer.agents.sessions.values())
