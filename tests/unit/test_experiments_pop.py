"""The real use of an experiment: the screen pop switched off per agent (variant ``off``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from ari_app.dialer.bus import EventBus
from ari_app.dialer.events import ScreenPop
from crm.experiments.assign import Variant, assign_variant
from crm.pops import PopHub
from crm.service import CrmService
from crm.services.customers import CustomerInput
from tests.helpers.waiting import eventually
from web.agent.pops import PopBridge


class RecordingHub(PopHub):
    """The real hub, keeping every message each agent was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, list[dict[str, Any]]] = {}

    def deliver(self, agent_id: str, message: Mapping[str, Any]) -> int:
        self.sent.setdefault(agent_id, []).append(dict(message))
        return super().deliver(agent_id, message)


@pytest.fixture
async def rig(crm_service: CrmService) -> AsyncIterator[tuple[EventBus, RecordingHub, str]]:
    customer, _ = await crm_service.customers.create(
        CustomerInput("李娜", phones=["13800138091"]))
    bus, hub = EventBus(), RecordingHub()
    bridge = PopBridge(bus, hub, crm_service, gate=crm_service.experiments)
    bridge.start()
    yield bus, hub, str(customer.id)
    await bridge.stop()


def pop(agent: str, customer_id: str, state: str, call_id: str) -> ScreenPop:
    return ScreenPop(agent, call_id, customer_id, "lead-1", "camp-1", "+8613800138091", state,
                     time.time())


def agents_by_variant(experiment_id: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for i in range(50):
        name = f"agent{1000 + i}"
        found.setdefault(assign_variant(experiment_id, name,
                                        [Variant("on", 1), Variant("off", 1)]), name)
    return found


async def test_given_pop_experiment_when_off_agent_called_then_no_customer_pop_but_state(
    rig: Any, crm_service: CrmService
) -> None:
    bus, hub, cid = rig
    exp = await crm_service.experiments.create({
        "key": "pop-ab", "name": "pop", "feature": "pop", "unit": "agent",
        "variants": [{"name": "on", "weight": 1}, {"name": "off", "weight": 1}]})
    agents = agents_by_variant(str(exp.id))
    on, off = agents["on"], agents["off"]

    bus.publish(pop(on, cid, "ringing", "call-on"))
    bus.publish(pop(off, cid, "ringing", "call-off"))
    bus.publish(pop(off, cid, "connected", "call-off"))
    await eventually(lambda: len(hub.sent.get(on, [])) == 1 and len(hub.sent.get(off, [])) == 2)

    shown = hub.sent[on][0]
    assert shown["type"] == "pop" and shown["customer"]["name"] == "李娜"
    hidden = hub.sent[off]
    assert [m["type"] for m in hidden] == ["call_state", "call_state"]
    assert hidden[0]["pop"] == "off" and hidden[0]["experiment"] == "pop-ab"
    assert all("customer" not in m for m in hidden)
    page = await crm_service.experiments.assignments(exp.id)
    assert {a.unit_id: a.variant for a in page.items} == {on: "on", off: "off"}


async def test_given_no_or_stopped_experiment_then_everybody_gets_the_pop(
    rig: Any, crm_service: CrmService
) -> None:
    bus, hub, cid = rig
    exp = await crm_service.experiments.create({
        "key": "pop-stop", "name": "pop", "feature": "pop", "unit": "agent",
        "variants": [{"name": "on", "weight": 1}, {"name": "off", "weight": 1}]})
    off = agents_by_variant(str(exp.id))["off"]
    await crm_service.experiments.stop(exp.id)

    bus.publish(pop(off, cid, "ringing", "call-x"))
    await eventually(lambda: len(hub.sent.get(off, [])) == 1)
    assert hub.sent[off][0]["type"] == "pop"


async def test_given_a_burst_of_pops_when_the_experiment_cache_runs_out_then_one_read(
    crm_service: CrmService,
) -> None:
    """101 pops asking at once whether the pop experiment runs make one query, not 101 (the
    burst's pops waited behind 202 of them)."""
    experiments = crm_service.experiments
    reads = 0
    real = experiments._read_running  # noqa: SLF001 - counting the service's own reads

    async def counted(feature: str, unit: str) -> Any:
        nonlocal reads
        reads += 1
        return await real(feature, unit)

    experiments._read_running = counted  # type: ignore[method-assign]  # noqa: SLF001
    found = await asyncio.gather(*(experiments.feature_variant("pop", "agent", f"a{i}")
                                   for i in range(101)))
    assert found == [None] * 101 and reads == 1
