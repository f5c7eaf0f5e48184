"""A real SIP phone (SIPp) as agent 1001: registered, answered, audio flowing."""

from __future__ import annotations

import array
import io
import uuid
import wave

import pytest

from ari_app.ami import AmiClient, AmiConfig, AmiEvent
from ari_app.ari import AriClient
from ari_app.errors import AmiActionFailed
from ari_app.pbx_admin import PbxAdmin
from ari_app.testing import EventLog
from tests.helpers.sim_pstn import originate, run_amd, started


def wav_peak(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getsampwidth() == 2
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return max((abs(s) for s in samples), default=0)


async def test_given_registered_phone_when_agent_leg_bridged_with_customer_then_audio_flows(
    ari: AriClient, events: EventLog, sipp_phone
) -> None:
    await sipp_phone("1001")
    agent_id, bridge_id = f"agent-{uuid.uuid4()}", f"bridge-{uuid.uuid4()}"
    await ari.originate("PJSIP/1001", channel_id=agent_id, app_args="agent", timeout_s=10)
    await events.wait_for(started(agent_id, "agent"))
    await ari.create_bridge(bridge_id, name="agent-1001")
    await ari.add_to_bridge(bridge_id, agent_id)

    customer_id = await originate(ari, "13800138090")
    verdict = await run_amd(ari, events, customer_id)
    assert verdict.args[1] == "HUMAN"
    await ari.add_to_bridge(bridge_id, customer_id)
    await events.wait_for(
        lambda e: e.type == "ChannelEnteredBridge" and e.channel_id == customer_id
    )
    recording = f"test-{uuid.uuid4()}"
    await ari.record_bridge(bridge_id, recording)
    await events.wait_for(lambda e: e.type == "RecordingStarted")
    # The customer speaks after "Hello?"; wait for their hangup (talk time 5 s).
    await events.wait_for(
        lambda e: e.type == "ChannelDestroyed" and e.channel_id == customer_id, timeout=30
    )
    rx = int(await ari.get_variable(agent_id, "CHANNEL(rtcp,rxcount)") or 0)
    tx = int(await ari.get_variable(agent_id, "CHANNEL(rtcp,txcount)") or 0)
    await ari.stop_recording(recording)
    await events.wait_for(lambda e: e.type == "RecordingFinished")
    audio = await ari.stored_recording(recording)
    await ari.delete_stored_recording(recording)

    assert rx > 100, f"agent phone sent {rx} RTP packets"
    assert tx > 100, f"agent phone received {tx} RTP packets"
    assert wav_peak(audio) > 1000, "the bridge recording is silent"


async def test_given_registered_phone_when_ami_asked_then_contact_reachable(
    asterisk, sipp_phone
) -> None:
    await sipp_phone("1002")
    ami = AmiClient(AmiConfig())
    await ami.connect()
    try:
        listed = await ami.action("PJSIPShowContacts")
        contacts = {m.get("Endpoint"): m for m in listed if m.get("Event") == "ContactList"}
        overview = await PbxAdmin(ami).overview()
        with pytest.raises(AmiActionFailed, match="(?i)permission denied"):
            await ami.action("Command", Command="core show version")  # no CLI for the app
        with pytest.raises(AmiActionFailed, match="(?i)permission denied"):
            await ami.action("Originate", Channel="Local/s@sim-pstn", Application="Wait")
    finally:
        await ami.close()

    assert "1002" in contacts, sorted(contacts)
    assert contacts["1002"]["Status"] in ("Reachable", "Unknown", "NonQualified")
    assert str(overview["version"]).startswith("22"), overview


def test_given_event_with_missing_header_then_get_returns_none() -> None:
    event = AmiEvent("ContactStatus", {"AOR": "1001"})
    assert event.get("AOR") == "1001"
    assert event.get("RoundtripUsec") is None
