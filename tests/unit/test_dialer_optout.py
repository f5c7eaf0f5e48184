"""The opt-out key during the safe-harbour message (issue 14 item 1), on fake ARI events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import CampaignConfig, DialMode
from tests.helpers.dialer_fakes import (
    FakeControl,
    FakeCrm,
    customer_answers,
    lead,
    running_dialer,
    until,
)


@pytest.fixture
async def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    control, crm = FakeControl(), FakeCrm([lead(0)])
    async with running_dialer(tmp_path, crm, control) as dialer:
        yield dialer, control, crm


async def _abandoned_call(dialer: Dialer, control: FakeControl, **settings: Any) -> str:
    """A predictive call answered by a human while no agent is free: safe harbour plays."""
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PREDICTIVE,
                                               abandon_after_s=0.5, **settings))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    await dialer.pause("a1", "break")
    call_id = str(control.verbs("originate")[1][1])
    await customer_answers(control, call_id)
    await until(lambda: control.verbs("play"))
    return call_id


async def test_given_safe_harbour_when_customer_presses_9_then_dnc_confirmed_and_flagged(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = rig
    call_id = await _abandoned_call(dialer, control)

    await control.emit("ChannelDtmfReceived", call_id, digit="9", duration_ms=250)
    await control.emit("ChannelDtmfReceived", call_id, digit="9", duration_ms=250)  # twice

    await until(lambda: crm.dnc)
    assert crm.dnc == [lead(0).number] and crm.dnc_campaigns == [None]  # default: global
    assert control.verbs("play")[-1] == (call_id, "sound:dialcrm/opt-out-confirm",
                                         f"optout:{call_id}")
    assert len(control.verbs("play")) == 2, "one confirmation for two presses"
    # the safe harbour ends: the confirmation is still to play, the call stays up
    await control.emit("PlaybackFinished", call_id, playback={"id": f"safeharbour:{call_id}"})
    assert ("hangup", (call_id,)) not in control.log
    await control.emit("PlaybackFinished", call_id, playback={"id": f"optout:{call_id}"})
    assert ("hangup", (call_id,)) in control.log
    await control.emit("ChannelDestroyed", call_id, cause=16)

    await until(lambda: any(e.get("disposition") == "opted_out" for e in crm.events))
    flagged = [e for e in crm.events if e.get("disposition") == "opted_out"]
    assert flagged[0]["type"] == "updated" and flagged[0]["call_id"] == call_id
    await until(lambda: crm.attempts)
    assert crm.attempts[0]["outcome"] == "abandoned"


async def test_given_campaign_scope_and_key_star_when_pressed_then_campaign_dnc(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = rig
    call_id = await _abandoned_call(dialer, control, opt_out_key="*",
                                    opt_out_scope="campaign")
    await control.emit("ChannelDtmfReceived", call_id, digit="9")  # not this campaign's key
    await control.emit("ChannelDtmfReceived", call_id, digit="*")
    await until(lambda: crm.dnc)
    assert crm.dnc_campaigns == ["c1"]


async def test_given_other_key_when_pressed_then_no_dnc_and_call_hangs_up_after_message(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = rig
    call_id = await _abandoned_call(dialer, control)
    await control.emit("ChannelDtmfReceived", call_id, digit="1")
    await control.emit("PlaybackFinished", call_id, playback={"id": f"safeharbour:{call_id}"})
    assert ("hangup", (call_id,)) in control.log
    assert len(control.verbs("play")) == 1
    await control.emit("ChannelDestroyed", call_id, cause=16)
    await until(lambda: crm.attempts)
    assert crm.dnc == []


async def test_given_connected_call_when_customer_presses_9_then_no_opt_out(
    rig,  # type: ignore[no-untyped-def]
) -> None:
    dialer, control, crm = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = str(control.verbs("originate")[1][1])
    await customer_answers(control, call_id)
    await until(lambda: control.verbs("add_to_bridge"))
    await control.emit("ChannelDtmfReceived", call_id, digit="9")
    assert "opted_out" not in dialer.calls.calls[call_id].extra
    assert not await dialer.store.all_payloads("dnc")
