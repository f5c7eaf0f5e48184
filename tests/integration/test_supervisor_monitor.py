"""Supervisor listen / whisper / barge on the real sandbox, with SIPp phones for agent and
supervisor.

The supervisor's phone streams a pure 1 kHz tone, the agent's phone streams speech. What each
party hears is recorded through separate ``spy=out`` snoops (audio written *to* that channel)
and the tone is looked for with a Goertzel filter:

- listen: the supervisor hears the call (non-silent), the customer hears no tone;
- whisper: the agent hears the tone, the customer does not;
- barge: the supervisor's leg is in the call's bridge and the customer *does* hear the tone
  (the same check that passes for whisper fails here: it can fail);
- after stop / the call's end: no supervisor channel, snoop or monitor bridge is left.
"""

from __future__ import annotations

import array
import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ari_app.ami import AmiClient, AmiConfig
from ari_app.ari import AriClient
from ari_app.dialer.model import CallPhase, CampaignConfig, DialMode
from ari_app.dialer.monitor import MonitorDesk, MonitorState
from ari_app.sim import SippPhone, start_phone
from ari_app.testing import DialerRig, wait_until
from tests.helpers.ears import (
    TONE_HZ,
    Ears,
    bridge_channels,
    customer_far_end,
    peak,
    rtp_sent,
    tone_fraction,
)
from web.monitor.api import build_monitor

AGENT_EXT, SUPERVISOR_EXT = "1037", "1038"
AGENT2_EXT, SUPERVISOR2_EXT = "1039", "1040"
# X=9: the simulated customer stays on the line 50 s after speaking; Z=0: a human.
LONG_CALL = "+8613800138900"


class RtpTap:
    """What a SIP phone really receives: the µ-law RTP sent to ``host:port`` on loopback,
    captured with a raw packet socket (we run as root, like the sandbox)."""

    def __init__(self, dest: str) -> None:
        host, port = dest.rsplit(":", 1)
        self.host, self.port = socket.inet_aton(host), int(port)
        self.payload = bytearray()
        self.packets = 0
        self._stop = threading.Event()
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        except PermissionError:
            raise AssertionError("the RTP tap needs root (CAP_NET_RAW), like the sandbox") from None
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, addr = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            if addr[2] == socket.PACKET_OUTGOING or frame[12:14] != b"\x08\x00":
                continue  # loopback shows each packet twice; IPv4 only
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 17 or ip[16:20] != self.host:
                continue
            udp = ip[ihl:]
            if int.from_bytes(udp[2:4], "big") != self.port:
                continue
            rtp = udp[8:]
            header = 12 + 4 * (rtp[0] & 0x0F)
            if rtp[1] & 0x7F == 0:  # PCMU
                self.payload += rtp[header:]
                self.packets += 1

    def samples(self) -> array.array[int]:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
        return array.array("h", (ULAW[b] for b in self.payload))


def _ulaw(byte: int) -> int:
    byte = ~byte & 0xFF
    magnitude = ((((byte & 0x0F) << 3) + 0x84) << ((byte & 0x70) >> 4)) - 0x84
    return -magnitude if byte & 0x80 else magnitude


ULAW = [_ulaw(b) for b in range(256)]


def make_tone(path: Path) -> Path:
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path),
                    "synth", "60", "sine", str(int(TONE_HZ)), "vol", "0.5"], check=True)
    return path


async def monitor_leftovers(ari: AriClient) -> list[str]:
    channels = [c.id for c in await ari.list_channels()]
    bridges = [b.id for b in await ari.list_bridges()]
    return [i for i in channels + bridges
            if i.startswith(("monitor-", "monsnoop-", "monitorbridge-"))]


@pytest.fixture
async def desk(rig: DialerRig) -> MonitorDesk:
    assert rig._ari is not None
    return build_monitor(rig.dialer, rig._ari, rig.stream.on_event)  # type: ignore[arg-type]


@pytest.fixture
async def tone_phone(
    asterisk: object, tmp_path: Path, ari: AriClient
) -> AsyncIterator[Callable[[str], Awaitable[SippPhone]]]:
    """A supervisor phone that streams a 1 kHz tone."""
    tone = make_tone(tmp_path / "tone.ulaw.wav")
    ami = AmiClient(AmiConfig())
    await ami.connect()
    phones: list[SippPhone] = []

    async def start(extension: str) -> SippPhone:
        phone = await start_phone(extension, tone, tmp_path, ami, ari)
        phones.append(phone)
        return phone

    yield start
    await ami.close()
    for phone in phones:
        phone.stop()


async def connected_call(rig: DialerRig, agent: str, extension: str) -> str:
    campaign_id = await rig.campaign_with_leads(f"monitor-{agent}", [LONG_CALL])
    await rig.dialer.login(agent, extension, campaign_id)
    rig.auto_dispose("not_interested")
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=DialMode.PROGRESSIVE))

    async def connected() -> bool:
        return any(c.phase is CallPhase.CONNECTED for c in rig.dialer.calls.calls.values())

    await wait_until(connected, 30, "the customer bridged to the agent")
    return next(c.call_id for c in rig.dialer.calls.calls.values()
                if c.phase is CallPhase.CONNECTED)


@dataclass
class Heard:
    supervisor: bytes = b""
    customer: bytes = b""
    agent: array.array[int] | None = None


async def hear_for(ari: AriClient, ears: Ears, counter: str, *, customer: str,
                   supervisor: str | None = None, agent: str | None = None,
                   packets: int = 150) -> Heard:
    """Record what the parties hear until ``counter`` (a channel) sent ``packets`` more RTP."""
    customer_snoop = await ears.start(customer, spy="in")
    supervisor_snoop = await ears.start(supervisor) if supervisor else None
    tap = RtpTap(await ari.get_variable(agent, "CHANNEL(rtp,dest)")) if agent else None
    base = await rtp_sent(ari, counter)

    async def enough() -> bool:
        return await rtp_sent(ari, counter) >= base + packets

    await wait_until(enough, 20, f"{packets} RTP packets to {counter}")
    heard = Heard(customer=await ears.stop(customer_snoop))
    if supervisor_snoop:
        heard.supervisor = await ears.stop(supervisor_snoop)
    if tap is not None:
        heard.agent = tap.samples()
        assert tap.packets > packets // 2, f"only {tap.packets} RTP packets to the agent seen"
    return heard


async def test_given_live_call_when_listen_whisper_barge_then_each_reaches_the_right_ears(
    rig: DialerRig, desk: MonitorDesk, ari: AriClient, sipp_phone, tone_phone
) -> None:
    await sipp_phone(AGENT_EXT, "agent-talk")
    await tone_phone(SUPERVISOR_EXT)
    call_id = await connected_call(rig, "agent1037", AGENT_EXT)
    agent = rig.dialer.agents.sessions["agent1037"]
    ears = Ears(ari, rig.events)

    # listen: the supervisor hears the call; nobody hears the supervisor
    far_end = await customer_far_end(ari, call_id)
    started = time.monotonic()
    session = await desk.monitor(call_id, "boss", "listen", SUPERVISOR_EXT)
    print(f"listen: supervisor answered and snooping in {time.monotonic() - started:.2f} s")
    assert await bridge_channels(ari, session.bridge_id) == {session.leg_id, session.snoop_id}
    assert await bridge_channels(ari, agent.bridge_id) == {agent.leg_id, call_id}
    heard = await hear_for(ari, ears, session.leg_id, customer=far_end,
                           supervisor=session.leg_id, agent=agent.leg_id)
    assert heard.agent is not None
    listen = (peak(heard.supervisor), tone_fraction(heard.customer), tone_fraction(heard.agent))
    print("listen: supervisor peak {}, customer tone {:.2f}, agent tone {:.2f}".format(*listen))
    assert listen[0] > 1000, "the supervisor hears nothing in listen mode"
    assert listen[1] < 0.05, "listen leaked the supervisor to the customer"
    assert listen[2] < 0.05, "listen leaked the supervisor to the agent"
    assert peak(heard.customer) > 1000, "the customer no longer hears the agent"

    # whisper: the agent hears the supervisor, the customer does not
    await desk.monitor(call_id, "boss", "whisper")
    heard = await hear_for(ari, ears, session.leg_id, customer=far_end, agent=agent.leg_id)
    assert heard.agent is not None
    whisper = (tone_fraction(heard.agent), tone_fraction(heard.customer))
    print("whisper: agent tone {:.2f}, customer tone {:.2f}".format(*whisper))
    assert whisper[0] > 0.3, "the agent does not hear the whisper"
    assert whisper[1] < 0.05, "the customer hears the whisper"
    assert peak(heard.customer) > 1000, "the customer no longer hears the agent"

    # barge: the supervisor's leg is in the call's bridge; the customer hears the tone now
    await desk.monitor(call_id, "boss", "barge")
    assert await bridge_channels(ari, agent.bridge_id) == {agent.leg_id, call_id, session.leg_id}
    heard = await hear_for(ari, ears, session.leg_id, customer=far_end, agent=agent.leg_id)
    assert heard.agent is not None
    barge = (tone_fraction(heard.customer), tone_fraction(heard.agent))
    print("barge: customer tone {:.2f}, agent tone {:.2f}".format(*barge))
    assert barge[0] > 0.3, "barge: the customer does not hear the supervisor"
    assert barge[1] > 0.3, "barge: the agent does not hear the supervisor"

    # stop: everything of the monitor is gone; the call goes on
    await desk.stop_call(call_id, "boss")
    await wait_until(lambda: _none_left(ari), 10, "the monitor's channels and bridge to go")
    assert await bridge_channels(ari, agent.bridge_id) == {agent.leg_id, call_id}
    assert rig.dialer.calls.calls[call_id].phase is CallPhase.CONNECTED


async def _none_left(ari: AriClient) -> bool:
    return not await monitor_leftovers(ari)


async def test_given_barging_supervisor_when_customer_hangs_up_then_monitor_cleaned_up(
    rig: DialerRig, desk: MonitorDesk, ari: AriClient, sipp_phone, tone_phone
) -> None:
    await sipp_phone(AGENT2_EXT, "agent-talk")
    await tone_phone(SUPERVISOR2_EXT)
    call_id = await connected_call(rig, "agent1039", AGENT2_EXT)
    agent = rig.dialer.agents.sessions["agent1039"]
    session = await desk.monitor(call_id, "boss2", "whisper", SUPERVISOR2_EXT)
    await desk.switch(session.monitor_id, "barge")
    assert session.leg_id in await bridge_channels(ari, agent.bridge_id)

    await rig.dialer.calls.hangup(call_id)  # the customer's leg ends
    await wait_until(lambda: _ended(session), 10, "the monitor to end with the call")
    await wait_until(lambda: _none_left(ari), 10, "the monitor's channels and bridge to go")
    assert session.end_reason == "call_ended"
    assert session.leg_id not in await bridge_channels(ari, agent.bridge_id)
    assert agent.leg_id in await bridge_channels(ari, agent.bridge_id)  # the agent stays up


async def _ended(session: object) -> bool:
    await asyncio.sleep(0)
    return getattr(session, "state", None) is MonitorState.ENDED
