"""The dialer's use cases against in-memory fakes of its ports (no Asterisk, no CRM)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import Conflict, InvalidRequest
from ari_app.dialer.events import ScreenPop
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.dialer.store import DialerStore
from tests.helpers.dialer_fakes import Clock, FakeControl, FakeCrm, customer_answers, lead, until


@pytest.fixture
async def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = FakeCrm([lead(0)])
    bus = EventBus()
    dialer = Dialer(control, store, crm, crm, bus, Clock(), worker="w1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    yield dialer, control, crm, bus
    await dialer.stop()
    await store.close()


async def test_given_progressive_campaign_when_human_answers_then_bridged_to_reserved_agent(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm, bus = rig
    pops = bus.subscribe(lambda e: isinstance(e, ScreenPop))
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    assert dialer.agents.sessions["a1"].state is AgentState.RESERVED
    ringing = await pops.get()
    assert isinstance(ringing, ScreenPop) and ringing.state == "ringing"

    await customer_answers(control, call_id)
    assert ("continue", (call_id, "dialer-amd")) in control.log
    assert ("add_to_bridge", ("agentbridge-a1", call_id)) in control.log
    assert ("record", ("agentbridge-a1", call_id)) in control.log
    assert dialer.agents.sessions["a1"].state is AgentState.ON_CALL

    await control.emit("ChannelDestroyed", call_id, cause=16)
    assert dialer.agents.sessions["a1"].state is AgentState.WRAP_UP
    with pytest.raises(InvalidRequest):
        await dialer.dispose("a1", "maybe")
    await dialer.dispose("a1", "do_not_call")

    await until(lambda: crm.attempts and crm.dnc and len(crm.events) >= 6)
    assert crm.attempts == [{"lead_id": "lead0", "outcome": "answered",
                             "disposition": "do_not_call", "callback_at": None}]
    assert crm.dnc == ["+8613800138000"]
    kinds = [e["type"] for e in crm.events]
    assert kinds[:4] == ["originated", "answered", "bridged", "ended"]
    assert {"disposition_set", "recording_ready"} <= set(kinds)
    assert dialer.agents.sessions["a1"].state is AgentState.READY


async def test_given_predictive_and_no_free_agent_when_human_answers_then_safe_harbour(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PREDICTIVE,
                                               abandon_after_s=0.5))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    await dialer.pause("a1", "break")  # the only agent walks away
    call_id = control.verbs("originate")[1][1]

    await customer_answers(control, call_id)
    await until(lambda: control.verbs("play"))
    assert control.verbs("play") == [(call_id, "sound:dialcrm/safe-harbour",
                                      f"safeharbour:{call_id}")]
    await control.emit("PlaybackFinished", call_id, playback={"id": f"safeharbour:{call_id}"})
    assert ("hangup", (call_id,)) in control.log
    await control.emit("ChannelDestroyed", call_id, cause=16)

    await until(lambda: crm.attempts)
    assert crm.attempts[0]["outcome"] == "abandoned"
    assert dialer.calls.counters["c1"].abandons == 1


async def test_given_machine_when_detected_then_hung_up_and_agent_freed(rig) -> None:  # type: ignore[no-untyped-def]
    dialer, control, crm, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]

    await customer_answers(control, call_id, amd="MACHINE")
    assert ("hangup", (call_id,)) in control.log
    assert dialer.agents.sessions["a1"].state is AgentState.READY
    await control.emit("ChannelDestroyed", call_id, cause=16)
    await until(lambda: crm.attempts)
    assert crm.attempts[0]["outcome"] == "machine"


async def test_given_originate_refused_when_dialing_then_failed_attempt(rig) -> None:  # type: ignore[no-untyped-def]
    dialer, control, crm, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    control.refuse_originate = True
    await dialer.ready("a1")
    await until(lambda: crm.attempts)
    assert crm.attempts[0]["outcome"] == "failed"
    assert dialer.agents.sessions["a1"].state is AgentState.READY


async def test_given_agent_states_when_bad_requests_then_clear_errors(rig) -> None:  # type: ignore[no-untyped-def]
    dialer, control, crm, _ = rig
    crm.leads.clear()
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    with pytest.raises(InvalidRequest):
        await dialer.login("a9", "10x1", "c1")
    await dialer.login("a1", "1001", "c1")
    with pytest.raises(InvalidRequest):
        await dialer.login("a1", "1001", "c1")  # already logged in
    with pytest.raises(Conflict):
        await dialer.hangup_customer("a1")
    with pytest.raises(Conflict):
        await dialer.dispose("a1", "sale")  # not in wrap-up
    with pytest.raises(InvalidRequest):
        await dialer.set_mode("c1", "telepathic")


async def test_given_calls_in_flight_when_controller_restarts_then_gone_calls_closed(
    tmp_path: Path,
) -> None:
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = FakeCrm([lead(0), lead(1)])
    crm.abandons["c1"] = (1000, 0)  # a clean history: the abandon brake lets it over-dial
    first = Dialer(control, store, crm, crm, EventBus(), Clock(), worker="w1")
    router = EventRouter()
    first.register(router)
    control.router = router
    await first.on_connected(Reconnected(0))
    await first.start_campaign(CampaignConfig("c1", mode=DialMode.PREDICTIVE, dial_ratio=2,
                                              pacing="ratio"))
    await first.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 3)
    calls = [args[1] for args in control.verbs("originate")[1:]]
    for task in list(first._tasks):  # killed: no clean stop
        task.cancel()
    control.channels.discard(calls[0])  # one call ended while nobody listened

    second = Dialer(control, store, crm, crm, EventBus(), Clock(), worker="w1")
    router2 = EventRouter()
    second.register(router2)
    control.router = router2
    await second.start()
    await second.on_connected(Reconnected(0))

    assert calls[0] not in second.calls.calls and calls[1] in second.calls.calls
    assert "c1" in second.runners  # the campaign runs again
    assert second.agents.sessions["a1"].state is AgentState.READY
    await until(lambda: crm.attempts)
    assert crm.attempts[0]["outcome"] == "failed"
    ended = [e for e in crm.events if e["type"] == "ended"]
    assert [e["call_id"] for e in ended] == [calls[0]]
    await second.stop()
    await store.close()


async def test_given_asterisk_restarted_when_reconnected_then_dropped_agents_reinvited(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm, _ = rig
    crm.leads.clear()
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    leg = dialer.agents.sessions["a1"].leg_id
    await control.emit("ChannelDestroyed", leg, cause=16)  # Asterisk going down cuts the leg
    assert dialer.agents.sessions["a1"].state is AgentState.LOGGED_OUT

    control.started = "2026-11-26T09:00:00.000+0000"
    await dialer.on_connected(Reconnected(1))

    await until(lambda: dialer.agents.sessions["a1"].state is AgentState.READY)
    assert dialer.reconciler.asterisk_restarts == 1
    assert len([a for a in control.verbs("originate") if a[2].startswith("agent")]) == 2


async def test_given_agent_hangs_up_without_restart_then_not_reinvited(rig) -> None:  # type: ignore[no-untyped-def]
    dialer, control, crm, _ = rig
    crm.leads.clear()
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await control.emit("ChannelDestroyed", dialer.agents.sessions["a1"].leg_id, cause=16)

    await dialer.on_connected(Reconnected(1))  # a plain socket reconnect, same Asterisk

    assert dialer.agents.sessions["a1"].state is AgentState.LOGGED_OUT
    assert len([a for a in control.verbs("originate") if a[2].startswith("agent")]) == 1


async def test_given_message_action_when_machine_then_sent_to_voicemail_drop(rig) -> None:  # type: ignore[no-untyped-def]
    from ari_app.dialer.model import MachineAction

    dialer, control, crm, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE,
                                               machine_action=MachineAction.MESSAGE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]

    await customer_answers(control, call_id, amd="MACHINE")

    assert ("set_variable", (call_id, "DIALCRM_MESSAGE", "dialcrm/machine-message")) in control.log
    assert ("continue", (call_id, "dialer-voicemail")) in control.log
    assert ("hangup", (call_id,)) not in control.log
    assert dialer.agents.sessions["a1"].state is AgentState.READY


async def test_given_model_pacing_with_no_history_then_progressive_fallback_says_so(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm, _ = rig
    crm.leads.extend(lead(n) for n in range(1, 6))
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PREDICTIVE))
    await dialer.login("a1", "1001", "c1")
    await dialer.login("a2", "1002", "c1")
    await until(lambda: len(control.verbs("originate")) >= 4)

    status = dialer.snapshot().campaigns[0]
    assert status.pacing == "model"
    assert "falling back to progressive" in status.pacing_reason
    customers = [a for a in control.verbs("originate") if a[2] == "customer"]
    assert len(customers) == 2  # one per ready agent until the model has data


async def test_given_agent_phone_drops_in_wrap_up_then_answered_attempt_recorded(rig) -> None:  # type: ignore[no-untyped-def]
    """An agent whose phone drops (or Asterisk restarts) during wrap-up: the answered call's
    attempt is still recorded (no disposition), the lead is not left claimed, un-attempted."""
    dialer, control, crm, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE,
                                               wrap_up_limit_s=600))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    await customer_answers(control, call_id)
    await control.emit("ChannelDestroyed", call_id, cause=16)
    assert dialer.agents.sessions["a1"].state is AgentState.WRAP_UP
    await control.emit("ChannelDestroyed", dialer.agents.sessions["a1"].leg_id, cause=16)
    assert dialer.agents.sessions["a1"].state is AgentState.LOGGED_OUT

    await until(lambda: crm.attempts)
    assert crm.attempts == [{"lead_id": "lead0", "outcome": "answered",
                             "disposition": None, "callback_at": None}]
    assert call_id not in dialer.calls.calls


async def test_given_reconnect_while_originate_in_flight_then_call_kept_and_subscribed(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    """Events reconnect (Asterisk restarted) while a call is being placed: its channel is not
    listed yet, so the reconcile must not close it; once placed, our app subscribes to it
    (an originate taken before the app was registered again carries no subscription)."""
    dialer, control, crm, _ = rig
    control.hold_originate = asyncio.Event()
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]

    await dialer.on_connected(Reconnected(1))
    assert call_id in dialer.calls.calls and not crm.attempts  # not taken for a lost call
    control.hold_originate.set()
    await until(lambda: ("subscribe", (call_id,)) in control.log)

    await customer_answers(control, call_id)
    await control.emit("ChannelDestroyed", call_id, cause=16)
    await dialer.dispose("a1", "not_interested")
    await until(lambda: crm.attempts)
    assert [a["outcome"] for a in crm.attempts] == ["answered"]


async def test_given_reconnect_with_live_call_then_app_subscribes_to_its_channel(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    assert ("subscribe", (call_id,)) not in control.log  # no reconnect: nothing extra

    await dialer.on_connected(Reconnected(1))

    assert ("subscribe", (call_id,)) in control.log
    assert call_id in dialer.calls.calls


async def test_given_subscription_fails_and_channel_gone_silently_then_call_closed(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm, _ = rig
    dialer.calls.gone_check_s = 0.05
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    control.channels.discard(call_id)  # destroyed, and the event went to nobody

    await dialer.calls.subscribe(dialer.calls.calls[call_id])

    # the attempt is delivered by the outbox while the call is being dropped: wait for both
    await until(lambda: bool(crm.attempts) and call_id not in dialer.calls.calls)
    assert crm.attempts[0]["lead_id"] == "lead0"
    assert call_id not in dialer.calls.calls
    assert dialer.agents.sessions["a1"].state is AgentState.READY


async def test_given_agent_phone_drops_mid_call_then_customer_hung_up(rig) -> None:  # type: ignore[no-untyped-def]
    """The agent's bridge goes with their leg: the customer would be left in silence."""
    dialer, control, crm, _ = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    await customer_answers(control, call_id)
    assert dialer.agents.sessions["a1"].state is AgentState.ON_CALL

    await control.emit("ChannelDestroyed", dialer.agents.sessions["a1"].leg_id, cause=16)

    await until(lambda: ("hangup", (call_id,)) in control.log)
    await control.emit("ChannelDestroyed", call_id, cause=16)
    await until(lambda: crm.attempts)
    assert crm.attempts == [{"lead_id": "lead0", "outcome": "answered",
                             "disposition": None, "callback_at": None}]
