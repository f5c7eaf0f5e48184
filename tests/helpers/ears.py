"""What a party on a sandbox call hears: ``spy=out``/``spy=in`` snoops recorded while RTP
flows, and a Goertzel tone detector (the supervisor monitor's technique, for hold and transfer
tests)."""

from __future__ import annotations

import array
import io
import math
import uuid
import wave

from ari_app.ari import AriClient
from ari_app.dialer.engine import complete_wav
from ari_app.testing import EventLog, wait_until

TONE_HZ = 1000.0


def wav_samples(data: bytes) -> array.array[int]:
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getsampwidth() == 2 and wav.getframerate() == 8000
        return array.array("h", wav.readframes(wav.getnframes()))


def tone_fraction(data: bytes | array.array[int], freq: float = TONE_HZ,
                  rate: int = 8000) -> float:
    """Fraction of 20 ms blocks where a ``freq`` tone carries most of the block's power."""
    samples = wav_samples(data) if isinstance(data, bytes) else data
    n = rate // 50
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    blocks = hits = 0
    for start in range(0, len(samples) - n + 1, n):
        block = samples[start:start + n]
        s1 = s2 = 0.0
        for x in block:
            s1, s2 = x + coeff * s1 - s2, s1
        amplitude = 2 * math.sqrt(max(s1 * s1 + s2 * s2 - coeff * s1 * s2, 0.0)) / n
        power = sum(x * x for x in block) / n
        blocks += 1
        if amplitude > 300 and amplitude * amplitude / 2 > 0.6 * power:
            hits += 1
    return hits / blocks if blocks else 0.0


def peak(data: bytes) -> int:
    return max((abs(s) for s in wav_samples(data)), default=0)


class Ears:
    """Records what one channel *hears* (a ``spy=out`` snoop) for a while.

    Every step waits for its ARI event: the snoop channel's ``StasisStart`` before recording it
    (ARI refuses, 409, to record a channel not yet in Stasis), ``RecordingStarted`` before the
    recording counts, ``RecordingFinished`` before the file is read."""

    def __init__(self, ari: AriClient, events: EventLog) -> None:
        self.ari = ari
        self.events = events
        self.made: list[str] = []

    async def start(self, channel_id: str, spy: str = "out") -> str:
        snoop_id = f"testears-{uuid.uuid4().hex[:10]}"
        await self.ari.snoop(channel_id, snoop_id=snoop_id, spy=spy, app_args="testears")
        await self.events.wait_for(
            lambda e: e.type == "StasisStart" and e.channel_id == snoop_id, timeout=5)
        await self.ari.request("POST", f"/channels/{snoop_id}/record",
                               params={"name": snoop_id, "format": "wav",
                                       "ifExists": "overwrite"})
        await self.events.wait_for(
            lambda e: e.type == "RecordingStarted" and e.recording_name == snoop_id, timeout=5)
        self.made.append(snoop_id)
        return snoop_id

    async def stop(self, snoop_id: str) -> bytes:
        await self.ari.stop_recording(snoop_id)
        await self.events.wait_for(
            lambda e: e.type == "RecordingFinished" and e.recording_name == snoop_id, timeout=10)
        audio = b""

        async def finished() -> bool:
            nonlocal audio
            try:
                audio = await self.ari.stored_recording(snoop_id)
            except Exception:  # noqa: BLE001 - not there yet
                return False
            return complete_wav(audio)

        await wait_until(finished, 10, f"recording {snoop_id}")
        await self.ari.delete_stored_recording(snoop_id)
        try:
            await self.ari.hangup(snoop_id)
        except Exception:  # noqa: BLE001 - it may be gone with its channel
            pass
        return audio


async def rtp_sent(ari: AriClient, channel_id: str) -> int:
    return int(await ari.get_variable(channel_id, "CHANNEL(rtcp,txcount)") or 0)


async def bridge_channels(ari: AriClient, bridge_id: str) -> set[str]:
    bridge = await ari.request("GET", f"/bridges/{bridge_id}")
    return set(bridge.get("channels", []))


async def customer_far_end(ari: AriClient, call_id: str) -> str:
    """The ``;2`` half of the customer's Local channel: what it *reads* is what the customer
    hears, after every snoop/whisper hook on the ``;1`` half has run."""
    channels = await ari.list_channels()
    name = next(c.name for c in channels if c.id == call_id)
    return next(c.id for c in channels if c.name == name[:-2] + ";2")
