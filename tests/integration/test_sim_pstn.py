"""Customer legs into the simulated PSTN: every outcome, as the app observes it."""

from __future__ import annotations

import pytest

from ari_app.ari import AriClient
from ari_app.testing import EventLog
from tests.helpers.sim_pstn import destroyed, dial_result, originate, run_amd, started


@pytest.mark.parametrize("number", ["13800138000", "+8613800138019"])
async def test_given_human_number_when_originated_then_amd_says_human(
    ari: AriClient, events: EventLog, number: str
) -> None:
    channel_id = await originate(ari, number)

    verdict = await run_amd(ari, events, channel_id)

    assert verdict.args[1] == "HUMAN", verdict.args
    assert verdict.channel_state == "Up"
    await ari.hangup(channel_id)
    gone = await events.wait_for(destroyed(channel_id))
    assert gone.cause == 16


async def test_given_machine_number_when_originated_then_amd_says_machine(
    ari: AriClient, events: EventLog
) -> None:
    channel_id = await originate(ari, "13800138004")

    verdict = await run_amd(ari, events, channel_id)

    assert verdict.args[1] == "MACHINE", verdict.args
    await ari.hangup(channel_id)
    await events.wait_for(destroyed(channel_id))


async def test_given_ringing_number_when_ring_timeout_passes_then_no_answer(
    ari: AriClient, events: EventLog
) -> None:
    channel_id = await originate(ari, "13800138005", timeout_s=3)

    gone = await events.wait_for(destroyed(channel_id), timeout=10)

    assert gone.cause == 19, (gone.cause, gone.cause_txt)
    assert not events.matching(started(channel_id, "customer"))


@pytest.mark.parametrize(
    ("number", "status"),
    [("13800138016", "BUSY"), ("13800138017", "CONGESTION"), ("13800138018", "NOANSWER")],
)
async def test_given_failing_number_when_originated_then_dial_status_tells_why(
    ari: AriClient, events: EventLog, number: str, status: str
) -> None:
    channel_id = await originate(ari, number)

    result = await events.wait_for(dial_result(channel_id), timeout=15)
    await events.wait_for(destroyed(channel_id), timeout=15)

    assert result.dial_status == status
    assert not events.matching(started(channel_id, "customer"))
