"""Supervisor monitoring (listen / whisper / barge) against the dialer's in-memory fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import CallNotFound, Conflict, InvalidRequest
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.dialer.monitor import MonitorChanged, MonitorDesk, MonitorNotFound, MonitorState
from ari_app.dialer.store import DialerStore
from tests.helpers.dialer_fakes import (
    Clock,
    FakeCrm,
    SnoopControl,
    customer_answers,
    lead,
    until,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Dialer, SnoopControl, MonitorDesk, Any]]:
    control = SnoopControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = FakeCrm([lead(0)])
    bus = EventBus()
    changes = bus.subscribe(lambda e: isinstance(e, MonitorChanged))
    dialer = Dialer(control, store, crm, crm, bus, Clock(), worker="w1")
    router = EventRouter()
    dialer.register(router)
    desk = MonitorDesk(control, dialer.calls, dialer.agents, bus, dialer.clock, dialer.spawn,
                       answer_timeout_s=1, snoop_timeout_s=1)
    desk.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    yield dialer, control, desk, changes
    await dialer.stop()
    await store.close()


async def connected_call(dialer: Dialer, control: SnoopControl) -> str:
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id: str = control.verbs("originate")[1][1]
    await customer_answers(control, call_id)
    assert dialer.agents.sessions["a1"].state is AgentState.ON_CALL
    return call_id


def drain(sub: Any) -> list[MonitorChanged]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


async def test_given_connected_call_when_listen_then_snoop_both_on_agent_leg_in_private_bridge(
    rig: Any,
) -> None:
    dialer, control, desk, changes = rig
    call_id = await connected_call(dialer, control)
    agent = dialer.agents.sessions["a1"]

    session = await desk.monitor(call_id, "boss", "listen", "1037", actor_ref=None)

    assert session.state is MonitorState.ACTIVE
    assert ("PJSIP/1037", session.leg_id, f"monitor,{session.monitor_id}") in \
        control.verbs("originate")
    assert control.verbs("snoop") == [(agent.leg_id, session.snoop_id, "both", "none")]
    assert ("add_to_bridge", (session.bridge_id, session.leg_id)) in control.log
    assert ("add_to_bridge", (session.bridge_id, session.snoop_id)) in control.log
    assert not any(b == agent.bridge_id and c == session.leg_id
                   for b, c in control.verbs("add_to_bridge"))
    assert [c.change for c in drain(changes)] == ["started"]


async def test_given_listen_when_switched_to_whisper_then_barge_then_back_old_snoops_hung_up(
    rig: Any,
) -> None:
    dialer, control, desk, changes = rig
    call_id = await connected_call(dialer, control)
    agent = dialer.agents.sessions["a1"]
    session = await desk.monitor(call_id, "boss", "listen", "1037")
    listen_snoop = session.snoop_id

    await desk.monitor(call_id, "boss", "whisper")  # same supervisor, same call: a switch
    assert control.verbs("snoop")[-1] == (agent.leg_id, session.snoop_id, "both", "out")
    assert ("hangup", (listen_snoop,)) in control.log
    whisper_snoop = session.snoop_id

    await desk.switch(session.monitor_id, "barge")
    assert ("add_to_bridge", (agent.bridge_id, session.leg_id)) in control.log
    assert ("remove_from_bridge", (session.bridge_id, session.leg_id)) in control.log
    assert ("hangup", (whisper_snoop,)) in control.log
    assert session.in_call_bridge and session.snoop_id is None

    await desk.switch(session.monitor_id, "listen")
    assert ("remove_from_bridge", (agent.bridge_id, session.leg_id)) in control.log
    assert control.log[-1] == ("add_to_bridge", (session.bridge_id, session.leg_id))
    assert not session.in_call_bridge and session.snoop_id is not None
    assert [c.mode for c in drain(changes)] == ["listen", "whisper", "barge", "listen"]


async def test_given_monitored_call_when_customer_hangs_up_then_supervisor_leg_released(
    rig: Any,
) -> None:
    dialer, control, desk, changes = rig
    call_id = await connected_call(dialer, control)
    session = await desk.monitor(call_id, "boss", "barge", "1037")

    await control.emit("ChannelDestroyed", call_id, cause=16)
    await until(lambda: session.state is MonitorState.ENDED)

    assert ("hangup", (session.leg_id,)) in control.log
    assert ("destroy_bridge", (session.bridge_id,)) in control.log
    assert session.end_reason == "call_ended" and desk.live() == []
    assert [c.change for c in drain(changes)] == ["started", "ended"]


async def test_given_monitor_when_supervisor_hangs_up_then_snoop_and_bridge_cleaned(
    rig: Any,
) -> None:
    dialer, control, desk, _ = rig
    call_id = await connected_call(dialer, control)
    session = await desk.monitor(call_id, "boss", "whisper", "1037")
    snoop = session.snoop_id

    await control.emit("ChannelDestroyed", session.leg_id)

    assert session.end_reason == "supervisor_hung_up"
    assert ("hangup", (snoop,)) in control.log
    assert ("destroy_bridge", (session.bridge_id,)) in control.log
    with pytest.raises(MonitorNotFound):
        await desk.stop(session.monitor_id)


async def test_given_bad_requests_then_refused_naming_the_field(rig: Any) -> None:
    dialer, control, desk, _ = rig
    with pytest.raises(CallNotFound):
        await desk.monitor("call-nope", "boss", "listen", "1037")
    call_id = await connected_call(dialer, control)
    with pytest.raises(InvalidRequest) as bad_mode:
        await desk.monitor(call_id, "boss", "shout", "1037")
    assert bad_mode.value.field == "mode"
    with pytest.raises(InvalidRequest) as no_ext:
        await desk.monitor(call_id, "boss", "listen")
    assert no_ext.value.field == "extension"
    with pytest.raises(InvalidRequest) as agent_phone:
        await desk.monitor(call_id, "boss", "listen", "1001")
    assert agent_phone.value.field == "extension"
    await desk.monitor(call_id, "boss", "listen", "1037")
    with pytest.raises(Conflict) as busy:
        await desk.monitor(call_id, "other", "listen", "1037")
    assert busy.value.field == "extension"
    with pytest.raises(MonitorNotFound):
        await desk.stop_call(call_id, "other")


async def test_given_call_not_connected_then_conflict(rig: Any) -> None:
    dialer, control, desk, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    ringing: str = control.verbs("originate")[1][1]
    with pytest.raises(Conflict) as exc:
        await desk.monitor(ringing, "boss", "listen", "1037")
    assert exc.value.field == "call_id"
    assert control.verbs("snoop") == []


async def test_given_phone_does_not_answer_then_unavailable_and_nothing_left(rig: Any) -> None:
    dialer, control, desk, changes = rig
    call_id = await connected_call(dialer, control)
    control.phone_answers = False
    from ari_app.dialer.errors import AgentPhoneUnavailable

    with pytest.raises(AgentPhoneUnavailable):
        await desk.monitor(call_id, "boss", "listen", "1037")
    assert desk.live() == [] and control.verbs("snoop") == []
    assert drain(changes) == []


async def test_given_stale_monitor_channels_when_swept_then_only_unknown_ones_hung_up(
    rig: Any,
) -> None:
    dialer, control, desk, _ = rig
    call_id = await connected_call(dialer, control)
    session = await desk.monitor(call_id, "boss", "listen", "1037")
    count = await desk.sweep(
        [session.leg_id, "monitor-mon-old", "monsnoop-mon-old-0-listen", call_id],
        ["monitorbridge-mon-old", session.bridge_id, "agentbridge-a1"])
    assert count == 3
    hung = {args[0] for args in control.verbs("hangup")}
    assert {"monitor-mon-old", "monsnoop-mon-old-0-listen"} <= hung
    assert session.leg_id not in hung and call_id not in hung
    assert ("destroy_bridge", ("monitorbridge-mon-old",)) in control.log
