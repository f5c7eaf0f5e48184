"""Customer legs into the simulated PSTN (``[sim-pstn]``), as the integration tests place
them and wait for what the app observes."""

from __future__ import annotations

import uuid

from ari_app.ari import AriClient, AriEvent
from ari_app.testing import EventLog

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
