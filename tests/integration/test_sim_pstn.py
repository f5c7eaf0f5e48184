"""Customer legs into the simulated PSTN: every outcome, as the app observes it."""

from __future__ import annotations

import uuid

import pytest

from ari_app.ari import AriClient, AriEvent
from tests.integration.support import EventLog

LOCAL = "Local/{number}@sim-pstn"


async def originate(ari: AriClient, number: str, timeout_s: int = 20) -> str:
    channel_id = f"test-{uuid.uuid4()}"
    await ari.originate(
        LOCAL.format(number=number), channel_id=channel_id, app_args="customer",
        timeout_s=timeout_s, formats="ulaw", caller_id="4008888000",
    )
    return channel_id


def started(channel_id: str, first_arg: str):
    return lambda e: (
        e.type == "StasisStart" and e.channel_id == channel_id and e.args[:1] == (first_arg,)
    )


def destroyed(channel_id: str):
    return lambda e: e.type == "ChannelDestroyed" and e.channel_id == channel_id


def dial_result(channel_id: str):
    return lambda e: (
        e.type == "Dial" and e.channel_id == channel_id
        and e.dial_status not in (None, "", "RINGING", "PROGRESS", "PROCEEDING")
    )


async def run_amd(ari: AriClient, events: EventLog, channel_id: str) -> AriEvent:
    await events.wait_for(started(channel_id, "customer"), timeout=15)
    await ari.continue_in_dialplan(channel_id, "dialer-amd")
    return await events.wait_for(started(channel_id, "amd"), timeout=15)


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
