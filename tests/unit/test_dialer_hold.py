"""Hold and mute on an agent's live call against in-memory fakes (issue 13 item 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import Conflict
from tests.helpers.dialer_fakes import (
    FakeControl,
    FakeCrm,
    lead,
    on_call,
    running_dialer,
    until,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Dialer, FakeControl, FakeCrm]]:
    control, crm = FakeControl(), FakeCrm([lead(0)])
    async with running_dialer(tmp_path, crm, control) as dialer:
        yield dialer, control, crm


async def test_given_agent_not_on_call_when_hold_or_mute_then_conflict_naming_call(
    rig: tuple[Dialer, FakeControl, FakeCrm]
) -> None:
    dialer, _, _ = rig
    await dialer.login("a1", "1001", "c1")
    for act in (dialer.hold_customer, dialer.mute_agent):
        with pytest.raises(Conflict) as caught:
            await act("a1", True)
        assert caught.value.field == "call_id"


async def test_given_live_call_when_hold_unhold_mute_then_moh_bridge_and_hold_time_recorded(
    rig: tuple[Dialer, FakeControl, FakeCrm]
) -> None:
    dialer, control, crm = rig
    call_id = await on_call(dialer, control)
    leg = dialer.agents.sessions["a1"].leg_id

    await dialer.hold_customer("a1", True)
    assert control.log[-2:] == [("remove_from_bridge", ("agentbridge-a1", call_id)),
                                ("start_moh", (call_id, "default"))]
    assert dialer.agent_view("a1").on_hold
    with pytest.raises(Conflict):
        await dialer.hold_customer("a1", True)
    await dialer.hold_customer("a1", False)
    assert control.log[-2:] == [("stop_moh", (call_id,)),
                                ("add_to_bridge", ("agentbridge-a1", call_id))]
    view = dialer.agent_view("a1")
    assert not view.on_hold and view.hold_seconds >= 0
    with pytest.raises(Conflict):
        await dialer.hold_customer("a1", False)

    await dialer.mute_agent("a1", True)
    assert control.log[-1] == ("mute", (leg, "in")) and dialer.agent_view("a1").muted
    await dialer.hold_customer("a1", True)  # ends on hold and muted
    await control.emit("ChannelDestroyed", call_id, cause=16)
    await until(lambda: ("unmute", (leg, "in")) in control.log)  # the leg carries the next call
    await until(lambda: any(e["type"] == "ended" for e in crm.events))
    ended = next(e for e in crm.events if e["type"] == "ended")
    assert "hold_seconds" in ended and ended["hold_seconds"] >= 0
    call = dialer.calls.calls[call_id]
    assert call.held_since is None and not call.muted
