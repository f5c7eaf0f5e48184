"""The dialer bus → pop hub bridge, on a real CRM service (SQLite): pops, call and agent states."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from ari_app.dialer.bus import EventBus
from ari_app.dialer.events import AgentStateChanged, LeadsClaimed, ScreenPop
from ari_app.dialer.model import AgentState
from crm.domain.enums import Language
from crm.pops import PopHub
from crm.service import CrmService
from crm.services.customers import CustomerInput
from crm.services.work import TaskInput
from tests.helpers.waiting import eventually
from web.agent.pops import PopBridge


class CountingSummaries:
    def __init__(self, crm: CrmService) -> None:
        self.crm = crm
        self.calls: list[tuple[str, Language]] = []
        self.batches = 0  # reads (one query set each)
        self.done = 0  # summaries returned (the bridge caches one before it next yields)

    async def customer_summaries(
        self, keys: Sequence[tuple[str, Language, str | None]]
    ) -> dict[tuple[str, Language, str | None], dict[str, Any]]:
        """One batch read; each (customer, language) asked counts as a call."""
        self.calls += [(c, lang) for c, lang, _ in keys]
        self.batches += 1
        found = await self.crm.customer_summaries(keys)
        self.done += len(keys)
        return found


@pytest.fixture
async def rig(crm_service: CrmService) -> AsyncIterator[tuple[EventBus, PopHub, Any, str]]:
    customer, _ = await crm_service.customers.create(
        CustomerInput("王伟", phones=["13800138090", "010-62345678"], tags=["VIP"])
    )
    await crm_service.work.create_task(TaskInput("发送报价", customer_id=customer.id))
    bus, hub = EventBus(), PopHub()
    summaries = CountingSummaries(crm_service)
    bridge = PopBridge(bus, hub, summaries, refresh_after_s=0.0)
    bridge.start()
    yield bus, hub, summaries, str(customer.id)
    await bridge.stop()


def screen_pop(
    customer_id: str, state: str, call_id: str = "call-1", agent: str = "agent"
) -> ScreenPop:
    return ScreenPop(
        agent, call_id, customer_id, "lead-1", "camp-1", "+8613800138090", state, time.time()
    )


async def test_given_ringing_pop_when_published_then_hub_has_customer_essentials(rig) -> None:
    bus, hub, summaries, cid = rig
    bus.publish(screen_pop(cid, "ringing"))

    await eventually(lambda: len(hub.current("agent")) == 1)

    msg = hub.current("agent")[0]
    assert (msg["type"], msg["state"], msg["call_id"]) == ("pop", "ringing", "call-1")
    customer = msg["customer"]
    assert customer["name"] == "王伟" and customer["tags"] == ["VIP"]
    assert [n["e164"] for n in customer["numbers"]] == ["+8613800138090", "+861062345678"]
    assert [t["title"] for t in customer["open_tasks"]] == ["发送报价"]
    assert set(customer) >= {"recent_contacts", "recommended_script"}
    assert msg["number"] == "+8613800138090" and msg["lead_id"] == "lead-1"


async def test_given_popped_call_when_connected_and_ended_then_call_states_without_requery(
    rig,
) -> None:
    bus, hub, summaries, cid = rig
    for state in ("ringing", "connected", "ended"):
        bus.publish(screen_pop(cid, state))

    await eventually(lambda: hub.current("agent") and hub.current("agent")[0]["state"] == "ended")

    assert len(summaries.calls) == 1, "one summary query set per call"
    assert hub.delivered == 3


async def test_given_preview_offer_when_accepted_then_dialing_pop_reuses_customer(rig) -> None:
    bus, hub, summaries, cid = rig
    bus.publish(screen_pop(cid, "offered", call_id=""))
    bus.publish(screen_pop(cid, "ringing", call_id="call-9"))

    await eventually(
        lambda: hub.current("agent") and hub.current("agent")[0]["call_id"] == "call-9")

    assert len(summaries.calls) == 1
    assert hub.current("agent")[0]["customer"]["name"] == "王伟"


async def test_given_agent_state_change_when_published_then_agent_state_message(rig) -> None:
    bus, hub, _, _ = rig
    bus.publish(
        AgentStateChanged(
            "agent", "camp-1", AgentState.READY, AgentState.PAUSED, 123.5, pause_code="lunch"
        )
    )

    await eventually(lambda: bool(hub.current("agent")))

    msg = hub.current("agent")[0]
    assert msg == {
        "type": "agent_state",
        "agent_id": "agent",
        "state": "paused",
        "previous": "ready",
        "pause_code": "lunch",
        "since": 123.5,
        "call_id": None,
        "campaign_id": "camp-1",
        "until": None,
    }


async def test_given_unknown_customer_when_popped_then_pop_still_carries_the_number(rig) -> None:
    bus, hub, _, _ = rig
    bus.publish(screen_pop("00000000-0000-0000-0000-000000000000", "ringing"))

    await eventually(lambda: bool(hub.current("agent")))

    msg = hub.current("agent")[0]
    assert msg["number"] == "+8613800138090"
    assert msg["customer"]["name"] is None and msg["customer"]["error"]


async def test_given_page_in_english_when_popped_then_summary_asked_in_english(rig) -> None:
    bus, hub, summaries, cid = rig

    async def send(_: str) -> None:
        return None

    async def close() -> None:
        return None

    hub.connect("agent", send, close, language="en")
    bus.publish(screen_pop(cid, "ringing"))

    await eventually(lambda: bool(summaries.calls))

    assert summaries.calls[0][1] is Language.EN


async def test_given_call_on_screen_when_agent_logs_out_then_pop_shows_ended(rig) -> None:
    bus, hub, _, cid = rig
    bus.publish(screen_pop(cid, "connected"))
    bus.publish(
        AgentStateChanged("agent", "camp-1", AgentState.ON_CALL, AgentState.LOGGED_OUT, 9.0)
    )

    await eventually(lambda: len(hub.current("agent")) == 2)

    state, pop = hub.current("agent")
    assert state["state"] == "logged_out"
    assert (pop["call_id"], pop["state"]) == ("call-1", "ended")


async def test_given_preview_offer_when_skipped_then_offer_ends(rig) -> None:
    bus, hub, _, cid = rig
    bus.publish(screen_pop(cid, "offered", call_id=""))
    bus.publish(AgentStateChanged("agent", "camp-1", AgentState.RESERVED, AgentState.READY, 9.0))

    await eventually(
        lambda: len(hub.current("agent")) == 2 and hub.current("agent")[1]["state"] == "ended"
    )


async def test_given_predictive_bridge_when_first_event_is_connected_then_full_pop(rig) -> None:
    bus, hub, summaries, cid = rig
    bus.publish(screen_pop(cid, "connected", call_id="call-p"))

    await eventually(lambda: bool(hub.current("agent")))

    msg = hub.current("agent")[0]
    assert (msg["type"], msg["state"], msg["customer"]["name"]) == ("pop", "connected", "王伟")
    assert len(summaries.calls) == 1


async def test_given_claimed_lead_when_popped_then_prefetched_summary_without_a_read(rig) -> None:
    """The hopper's claim prefetches the summary; the pop itself reads nothing."""
    bus, hub, summaries, cid = rig
    bus.publish(LeadsClaimed("camp-1", (cid,), time.time()))
    await eventually(lambda: summaries.done == 1)  # prefetched and cached
    bus.publish(screen_pop(cid, "ringing"))
    await eventually(lambda: len(hub.current("agent")) == 1)
    assert hub.current("agent")[0]["customer"]["name"] == "王伟"
    await eventually(lambda: summaries.done >= 2)  # the re-read behind the cached pop
    assert len(summaries.calls) == 2 and not [
        m for m in hub.current("agent") if m.get("type") == "pop_refresh"
    ]


async def test_given_customer_changed_after_prefetch_when_popped_then_pop_refresh(
    rig, crm_service: CrmService
) -> None:
    bus, hub, summaries, cid = rig
    bus.publish(LeadsClaimed("camp-1", (cid,), time.time()))
    await eventually(lambda: summaries.done == 1)  # prefetched and cached before the change
    await crm_service.work.create_task(TaskInput("回电", customer_id=uuid.UUID(cid)))
    conn_msgs: list[dict[str, Any]] = []
    original = hub.deliver

    def spy(agent_id: str, message: Any) -> int:
        conn_msgs.append(dict(message))
        return original(agent_id, message)

    hub.deliver = spy  # type: ignore[method-assign]
    bus.publish(screen_pop(cid, "ringing"))
    await eventually(lambda: any(m["type"] == "pop_refresh" for m in conn_msgs))
    first, refresh = conn_msgs[0], next(m for m in conn_msgs if m["type"] == "pop_refresh")
    assert [t["title"] for t in first["customer"]["open_tasks"]] == ["发送报价"]
    assert sorted(t["title"] for t in refresh["customer"]["open_tasks"]) == ["发送报价", "回电"]
    pop = hub.current("agent")[0]  # a reconnecting page gets the refreshed customer
    assert pop["type"] == "pop" and pop["state"] == "ringing"
    assert sorted(t["title"] for t in pop["customer"]["open_tasks"]) == ["发送报价", "回电"]


async def test_given_a_burst_of_cold_pops_when_published_at_once_then_one_batch_read(
    rig, crm_service: CrmService
) -> None:
    """A campaign start: every agent popped at the same instant, nothing prefetched. The
    summaries are read together (one query set), not one read per pop."""
    bus, hub, summaries, cid = rig
    others = [cid]
    for i in range(5):
        c, _ = await crm_service.customers.create(
            CustomerInput(f"客户{i}", phones=[f"1380000{i:04d}"]))
        others.append(str(c.id))
    for i, customer in enumerate(others):
        bus.publish(screen_pop(customer, "ringing", call_id=f"call-{i}", agent=f"agent-{i}"))

    await eventually(lambda: all(hub.current(f"agent-{i}") for i in range(len(others))))

    assert summaries.batches == 1 and len(summaries.calls) == len(others)
    names = [hub.current(f"agent-{i}")[0]["customer"]["name"] for i in range(len(others))]
    assert names == ["王伟", *(f"客户{i}" for i in range(5))]
