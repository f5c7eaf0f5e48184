"""The live audio fork's state handling against a fake ARI and a fake recogniser stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ari_app.ari import ChannelInfo
from ari_app.errors import AriNotFound, AriUnavailable
from ari_app.speech import AudioGap, GapReason, RecogniserUnavailableError, TranscriptSegment
from ari_app.speech.fork import (
    FORK_PREFIX,
    ForkConfig,
    ForkState,
    IllegalForkTransition,
    Timeline,
)
from ari_app.speech.live import AudioForks
from web.transcripts.wiring import attach_forks

FAST = ForkConfig(first_media_s=0.15, stall_s=0.15, rebuild_backoff_s=0.01,
                  recogniser_retry_s=0.05, close_timeout_s=2.0, min_gap_s=0.05)
FRAME = b"\x01\x00" * 320  # 20 ms of slin16


class FakeSocket:
    def __init__(self) -> None:
        self.frames: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self.closed = False

    async def receive(self, timeout: float) -> bytes | str | None:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def close(self) -> None:
        self.closed = True
        self.frames.put_nowait(None)


class FakeAri:
    """Records the fork's ARI verbs; ``silent`` media sockets never deliver audio."""

    def __init__(self, silent: int = 0, gone: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.sockets: list[FakeSocket] = []
        self.silent = silent
        self.gone = gone
        self.live: set[str] = set()

    async def snoop(self, channel_id: str, *, snoop_id: str, spy: str = "in",
                    whisper: str = "none", app_args: str = "") -> dict[str, Any]:
        if self.gone:
            raise AriNotFound("POST", f"/channels/{channel_id}/snoop", 404, "Channel not found")
        self.calls.append(("snoop", f"{snoop_id}:{spy}"))
        self.live.add(snoop_id)
        return {"id": snoop_id}

    async def external_media(self, *, channel_id: str, fmt: str = "slin16", **_: Any
                             ) -> ChannelInfo:
        self.calls.append(("external_media", channel_id))
        self.live.add(channel_id)
        return ChannelInfo.from_json(
            {"id": channel_id, "channelvars": {"MEDIA_WEBSOCKET_CONNECTION_ID": "conn"}})

    async def open_media(self, connection_id: str, timeout: float | None = None) -> FakeSocket:
        socket = FakeSocket()
        self.sockets.append(socket)
        if len(self.sockets) > self.silent:
            socket.frames.put_nowait("MEDIA_START format:slin16 optimal_frame_size:640")
        return socket

    async def create_bridge(self, bridge_id: str, name: str = "", kind: str = "mixing") -> None:
        self.calls.append(("create_bridge", bridge_id))
        self.live.add(bridge_id)

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None:
        self.calls.append(("add_to_bridge", channel_id))

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.calls.append(("destroy_bridge", bridge_id))
        self.live.discard(bridge_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.calls.append(("hangup", channel_id))
        if channel_id not in self.live:
            raise AriNotFound("DELETE", f"/channels/{channel_id}", 404, "Channel not found")
        self.live.discard(channel_id)


class FakeStream:
    def __init__(self, speaker: str, prompt: str | None) -> None:
        self.speaker, self.prompt = speaker, prompt
        self.fed = 0
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    @property
    def position(self) -> float:
        return self.fed / 32000

    def feed_nowait(self, data: bytes) -> bool:
        if self.closed:
            raise RecogniserUnavailableError("closed")
        self.fed += len(data)
        return True

    async def close(self, timeout: float = 30.0) -> None:
        self.closed = True
        self.events.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[Any]:
        while (event := await self.events.get()) is not None:
            yield event


class FakeRecogniser:
    def __init__(self, down_for: int = 0) -> None:
        self.streams: dict[str, FakeStream] = {}
        self.down_for = down_for  # refuse this many open_stream calls

    async def open_stream(self, call_id: str, speaker: str, sample_rate: int,
                          encoding: str = "slin", prompt: str | None = None) -> FakeStream:
        if self.down_for > 0:
            self.down_for -= 1
            raise RecogniserUnavailableError("recogniser pool is not started")
        assert (encoding, sample_rate) == ("slin", 16000)
        stream = FakeStream(speaker, prompt)
        self.streams[speaker] = stream
        return stream


class Sink:
    def __init__(self) -> None:
        self.segments: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, call_id: str, segment: dict[str, Any]) -> None:
        self.segments.append((call_id, segment))

    def of(self, speaker: str) -> list[dict[str, Any]]:
        return [s for _, s in self.segments if s["speaker"] == speaker]


async def feed(ari: FakeAri, socket_index: int, frames: int) -> None:
    for _ in range(frames):
        ari.sockets[socket_index].frames.put_nowait(FRAME)
        await asyncio.sleep(0)


async def until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - tests wait by polling a state
            await asyncio.sleep(0.01)


def forks_of(ari: FakeAri, rec: FakeRecogniser, sink: Sink, **kw: Any) -> AudioForks:
    return AudioForks(ari, rec, sink, FAST, lambda campaign: f"vocab of {campaign}", **kw)


async def test_given_live_call_when_audio_flows_then_segments_in_call_time_and_teardown():
    ari, rec, sink = FakeAri(), FakeRecogniser(), Sink()
    forks = forks_of(ari, rec, sink)
    forks.call_live("call-1", "camp-1")
    await until(lambda: len(ari.sockets) == 2)
    await feed(ari, 0, 50)
    await feed(ari, 1, 50)
    await until(lambda: rec.streams["customer"].fed == 50 * len(FRAME))
    rec.streams["customer"].events.put_nowait(TranscriptSegment(
        "call-1", "customer", 0.2, 0.9, "the price is too high", 0.8, -0.2, "en"))
    await until(lambda: sink.of("customer"))
    forks.call_ended("call-1")
    fork = await forks.wait_stopped("call-1")

    seg = sink.of("customer")[0]
    assert seg["segment_id"] == "call-1:customer:1" and seg["text"] == "the price is too high"
    assert 0.2 <= seg["start_s"] < seg["end_s"] <= 1.5  # call time: the build took a moment
    assert {spy for _, s in ari.calls if _ == "snoop" for spy in [s.split(":")[1]]} \
        == {"in", "out"}, "customer = spy in, agent = spy out, both on the customer's channel"
    assert rec.streams["customer"].prompt == "vocab of camp-1"
    for leg in fork.legs:
        assert leg.history == [ForkState.WAITING_RECOGNISER, ForkState.BUILDING,
                               ForkState.STREAMING, ForkState.STOPPED]
        (snoop, media, bridge), = leg.built
        assert all(x.startswith(FORK_PREFIX) for x in (snoop, media, bridge))
        assert ("hangup", media) in ari.calls and ("destroy_bridge", bridge) in ari.calls
    assert not ari.live, f"left behind: {ari.live}"
    assert all(s.closed for s in ari.sockets) and all(s.closed for s in rec.streams.values())
    assert not [s for _, s in sink.segments if s.get("gap")], "no audio was lost"
    assert forks.stats.segments == 1 and forks.stats.latencies_s


async def test_given_no_media_when_watchdog_fires_then_fork_rebuilt_with_fresh_ids_and_gap():
    ari, rec, sink = FakeAri(silent=1), FakeRecogniser(), Sink()
    forks = forks_of(ari, rec, sink, speakers=("customer",))
    forks.call_live("call-2", "camp")
    await until(lambda: len(ari.sockets) == 2)  # the first never spoke: rebuilt
    await feed(ari, 1, 20)
    await until(lambda: rec.streams["customer"].fed == 20 * len(FRAME))
    forks.call_ended("call-2")
    fork = await forks.wait_stopped("call-2")

    leg = fork.legs[0]
    assert leg.rebuilds == 1 and len(leg.built) == 2
    assert len({cid for ids in leg.built for cid in ids}) == 6, "never reuse an id"
    assert leg.history[:5] == [ForkState.WAITING_RECOGNISER, ForkState.BUILDING,
                               ForkState.BROKEN, ForkState.BUILDING, ForkState.STREAMING]
    gaps = [s for _, s in sink.segments if s.get("gap")]
    assert len(gaps) == 1 and gaps[0]["reason"] == "fork_no_media"
    assert gaps[0]["start_s"] == 0.0 and gaps[0]["end_s"] >= FAST.first_media_s
    assert leg.timeline.offset >= FAST.first_media_s, "later audio is placed after the gap"
    assert not ari.live


async def test_given_recogniser_down_then_nothing_forked_and_whole_call_is_a_gap():
    ari, rec, sink = FakeAri(), FakeRecogniser(down_for=10_000), Sink()
    forks = forks_of(ari, rec, sink)
    forks.call_live("call-3", "camp")
    await asyncio.sleep(0.3)
    forks.call_ended("call-3")
    await forks.wait_stopped("call-3")

    assert not ari.calls, "no recogniser: nothing to fork"
    assert sorted(s["speaker"] for _, s in sink.segments) == ["agent", "customer"]
    for _, seg in sink.segments:
        assert seg["gap"] and seg["reason"] == "recogniser_unavailable"
        assert seg["start_s"] == 0.0 and seg["end_s"] >= 0.3


async def test_given_recogniser_back_during_call_then_fork_starts_and_gap_ends_there():
    ari, rec, sink = FakeAri(), FakeRecogniser(down_for=3), Sink()
    forks = forks_of(ari, rec, sink, speakers=("customer",))
    forks.call_live("call-4", "camp")
    await until(lambda: ari.sockets)
    await feed(ari, 0, 10)
    await until(lambda: rec.streams["customer"].fed == 10 * len(FRAME))
    forks.call_ended("call-4")
    await forks.wait_stopped("call-4")

    (_, gap), = sink.segments
    assert gap["reason"] == "recogniser_unavailable" and gap["start_s"] == 0.0
    assert 0.1 <= gap["end_s"] < 2.0


async def test_given_recogniser_drops_frames_then_gap_marker_in_call_time():
    ari, rec, sink = FakeAri(), FakeRecogniser(), Sink()
    forks = forks_of(ari, rec, sink, speakers=("customer",))
    forks.call_live("call-5", "camp")
    await until(lambda: ari.sockets)
    await feed(ari, 0, 5)
    await until(lambda: rec.streams["customer"].fed)
    offset = forks.calls["call-5"].legs[0].timeline.offset
    rec.streams["customer"].events.put_nowait(
        AudioGap("call-5", "customer", 1.0, 3.5, GapReason.BACKPRESSURE))
    await until(lambda: sink.segments)
    forks.call_ended("call-5")
    await forks.wait_stopped("call-5")

    (_, gap), = sink.segments
    assert gap["reason"] == "backpressure" and gap["gap"] is True
    assert gap["start_s"] == pytest.approx(1.0 + offset, abs=1e-3)
    assert gap["end_s"] == pytest.approx(3.5 + offset, abs=1e-3)


async def test_given_customer_gone_when_forking_then_leg_ends_quietly():
    ari, rec, sink = FakeAri(gone=True), FakeRecogniser(), Sink()
    forks = forks_of(ari, rec, sink)
    forks.call_live("call-6", "camp")
    for fork_task in forks.calls["call-6"].tasks:
        await asyncio.wait_for(fork_task, 2)  # no retry loop on a vanished channel
    assert all(leg.state is ForkState.STOPPED for leg in forks.calls["call-6"].legs)
    forks.call_ended("call-6")
    await forks.wait_stopped("call-6")
    assert not ari.sockets


async def test_given_ari_timeouts_when_building_then_retried_until_limit_and_call_untouched():
    ari, rec, sink = FakeAri(), FakeRecogniser(), Sink()

    async def timeout(*_: Any, **__: Any) -> dict[str, Any]:
        raise AriUnavailable("ARI POST /channels/externalMedia: no answer in time")

    ari.external_media = timeout  # type: ignore[method-assign]
    forks = forks_of(ari, rec, sink, speakers=("customer",))
    forks.call_live("call-7", "camp")
    leg = forks.calls["call-7"].legs[0]
    await until(lambda: leg.rebuilds > FAST.max_rebuilds)
    forks.call_ended("call-7")
    await forks.wait_stopped("call-7")
    assert leg.state is ForkState.STOPPED
    assert not ari.live, "each failed build cleaned up its snoop"
    assert not any(verb == "hangup" and cid == "call-7" for verb, cid in ari.calls)
    (_, gap), = sink.segments
    assert gap["reason"] == "fork_failed"


def test_given_stopped_fork_when_moving_then_illegal():
    ari, rec = FakeAri(), FakeRecogniser()
    forks = forks_of(ari, rec, Sink())
    from ari_app.speech.fork import LegFork

    leg = LegFork("c", "c", "customer", "in", ari, rec, Sink(), FAST, None, forks.stats)
    leg.move(ForkState.STOPPED)
    with pytest.raises(IllegalForkTransition):
        leg.move(ForkState.STREAMING)


def test_given_shifts_then_timeline_maps_stream_time_to_call_time():
    t = Timeline()
    assert t.call_time(2.0) == 2.0
    t.shift(3.0, 1.5)  # 1.5 s lost at stream time 3.0
    assert t.call_time(2.9) == 2.9 and t.call_time(3.0) == 4.5 and t.call_time(10) == 11.5


class _Calls:
    def __init__(self) -> None:
        self.on_live: list[Any] = []
        self.on_finished: list[Any] = []


class _Dialer:
    def __init__(self) -> None:
        self.calls = _Calls()


class _Call:
    def __init__(self, call_id: str) -> None:
        self.call_id, self.campaign_id = call_id, "camp"


async def test_given_abandoned_call_then_not_forked_and_connected_call_forked_until_end():
    ari, rec, sink = FakeAri(), FakeRecogniser(), Sink()
    forks = forks_of(ari, rec, sink)
    dialer = _Dialer()
    attach_forks(dialer, forks)  # type: ignore[arg-type]
    dialer.calls.on_live[0](_Call("call-a"), True)
    assert "call-a" not in forks.calls, "an abandoned customer has no agent to transcribe"
    dialer.calls.on_live[0](_Call("call-b"), False)
    assert "call-b" in forks.calls
    dialer.calls.on_finished[0](_Call("call-b"))
    await forks.wait_stopped("call-b")
    assert forks.status()["live"] == 0 and forks.status()["forks"] == 1


async def test_given_controller_restarted_mid_call_when_adopting_then_forked_with_restart_gap():
    import time

    from ari_app.dialer.model import CallAttempt, CallPhase
    from web.transcripts.wiring import adopt_live_calls

    ari, rec, sink = FakeAri(), FakeRecogniser(), Sink()
    forks = forks_of(ari, rec, sink, speakers=("customer",))
    dialer = _Dialer()
    up = CallAttempt("call-r", "camp", "lead", "cust", "+8613900000100",
                     phase=CallPhase.CONNECTED, bridged_at=time.time() - 5.0)
    over = CallAttempt("call-x", "camp", "lead", "cust", "+8613900000100",
                       phase=CallPhase.ENDED, bridged_at=time.time() - 50.0)
    dialer.calls.calls = {"call-r": up, "call-x": over}  # type: ignore[attr-defined]
    assert adopt_live_calls(dialer, forks) == 1  # type: ignore[arg-type]
    assert adopt_live_calls(dialer, forks) == 0, "adopted once"  # type: ignore[arg-type]
    await until(lambda: ari.sockets)
    await feed(ari, 0, 10)
    await until(lambda: rec.streams["customer"].fed == 10 * len(FRAME))
    forks.call_ended("call-r")
    await forks.wait_stopped("call-r")
    (_, gap), = sink.segments
    assert gap["reason"] == "controller_restart"
    assert gap["start_s"] == 0.0 and 5.0 <= gap["end_s"] < 7.0


def test_given_campaign_vocabulary_then_prompt_from_it_else_from_crm_lexicon():
    from ari_app.dialer.model import CampaignConfig
    from web.transcripts.wiring import MAX_PROMPT_TERMS, prompt_for

    class Configs:
        configs = {"a": CampaignConfig("a", vocabulary=("solar panel", "kilowatt")),
                   "b": CampaignConfig("b")}

    prompt_of = prompt_for(Configs())  # type: ignore[arg-type]
    assert prompt_of("a") == "Call centre sales call about solar panel, kilowatt."
    default = prompt_of("b") or ""
    assert "price" in default and "too expensive" in default, default
    assert default.count(",") == MAX_PROMPT_TERMS - 1, "bounded: Whisper's prompt is short"
    assert prompt_of("unknown campaign") == default
