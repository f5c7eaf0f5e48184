"""A call that ended while the controller was down is closed, at the restart, at Asterisk's
hang-up time (kept by the dialplan's hangup handler), and says it was reconciled (issue 17,
finding 18)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import AgentState, CallPhase, CampaignConfig, DialMode
from ari_app.dialer.store import DialerStore
from tests.helpers.dialer_fakes import FakeControl, FakeCrm, customer_answers, lead, until

RESTART_AFTER_S = 30.0


class LaterClock:
    """The loop's clock, ``offset`` seconds on: the restarted process lives later."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        return asyncio.get_running_loop().time() + self.offset


async def _dialer(control: FakeControl, store: DialerStore, crm: FakeCrm,
                  clock: LaterClock) -> Dialer:
    dialer = Dialer(control, store, crm, crm, EventBus(), clock, worker="w1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    return dialer


async def _bridged_then_killed(tmp_path: Path) -> tuple[FakeControl, DialerStore, FakeCrm,
                                                        str, float]:
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = FakeCrm([lead(0)])
    first = await _dialer(control, store, crm, LaterClock())
    await first.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await first.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    await customer_answers(control, call_id)
    call = first.calls.calls[call_id]
    assert call.phase is CallPhase.CONNECTED and call.bridged_at is not None
    for task in list(first._tasks):  # killed: no clean stop
        task.cancel()
    return control, store, crm, call_id, call.bridged_at


async def test_given_customer_call_when_originated_then_asterisk_keeps_its_hangup_time(
    tmp_path: Path,
) -> None:
    control, store, _, call_id, _ = await _bridged_then_killed(tmp_path)
    assert control.noted_hangups == {call_id}, "only customer legs carry the hangup note"
    await store.close()


async def test_given_call_ended_while_controller_down_when_restarted_then_asterisk_end_used(
    tmp_path: Path,
) -> None:
    control, store, crm, call_id, bridged_at = await _bridged_then_killed(tmp_path)
    control.channels.discard(call_id)  # the customer hung up while nobody listened
    control.hangup_times[call_id] = bridged_at + 12.5  # what Asterisk's hangup handler kept

    second = await _dialer(control, store, crm, LaterClock(RESTART_AFTER_S))

    await until(lambda: any(e["type"] == "ended" for e in crm.events))
    [ended] = [e for e in crm.events if e["type"] == "ended"]
    assert ended["call_id"] == call_id
    assert ended["talk_seconds"] == 12.5, "Asterisk's talk time, not the restart's"
    assert ended["closed_by"] == "reconcile" and ended["end_source"] == "asterisk"
    assert second.calls.calls[call_id].ended_at == bridged_at + 12.5
    assert second.agents.sessions["a1"].state is AgentState.WRAP_UP
    await until(lambda: ("forget_hangup_time", (call_id,)) in control.log)
    await second.stop()
    await store.close()


async def test_given_no_hangup_time_kept_when_restarted_then_closed_now_and_says_so(
    tmp_path: Path,
) -> None:
    control, store, crm, call_id, bridged_at = await _bridged_then_killed(tmp_path)
    control.channels.discard(call_id)  # and Asterisk kept no time (e.g. it restarted too)

    second = await _dialer(control, store, crm, LaterClock(RESTART_AFTER_S))

    await until(lambda: any(e["type"] == "ended" for e in crm.events))
    [ended] = [e for e in crm.events if e["type"] == "ended"]
    assert ended["closed_by"] == "reconcile" and ended["end_source"] == "controller"
    assert ended["talk_seconds"] >= RESTART_AFTER_S
    await second.stop()
    await store.close()


async def test_given_call_ends_normally_then_its_kept_hangup_time_is_forgotten(
    tmp_path: Path,
) -> None:
    control, store, crm, call_id, _ = await _bridged_then_killed(tmp_path)
    second = await _dialer(control, store, crm, LaterClock())

    await control.emit("ChannelDestroyed", call_id, cause=16)

    await until(lambda: ("forget_hangup_time", (call_id,)) in control.log)
    [ended] = [e for e in crm.events if e["type"] == "ended"]
    assert "closed_by" not in ended or ended["closed_by"] is None
    await second.stop()
    await store.close()
