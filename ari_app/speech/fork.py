"""The live audio fork: each connected call's audio, per speaker, to the recogniser.

For every connected call two legs are forked from the *customer's* channel:

- ``customer``: ``snoop spy=in`` — what the customer says, and nothing else;
- ``agent``: ``snoop spy=out`` — what the customer hears, i.e. the agent (the bridge's mix
  minus the customer). Chosen over a snoop on the agent's phone leg because that leg is
  nailed up across calls: a snoop on it would outlive the call if the controller died, while
  a snoop on the customer's channel ends with the customer, whatever happens to us.

Each leg: snoop channel + ``externalMedia`` (chan_websocket, server mode, fresh ids every
time — Asterisk 22.10 crashes on a reused ``channelId``) in a private mixing bridge; the app
reads the media WebSocket and feeds the frames to a :class:`RecogniserStream` without ever
blocking (the stream drops and records a gap when the recogniser is slow). A watchdog rebuilds
a fork that gets no media (first frame within ``first_media_s``, then no stall longer than
``stall_s``). Nothing here touches the call itself: the fork only listens.

Times in segments are seconds from the moment the call went live (the customer bridged to
the agent); ``segment_id`` is ``{call_id}:{speaker}:{seq}`` (idempotent at the CRM).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import time
import uuid
from bisect import bisect_right
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ari_app.ari.resources import ChannelInfo
from ari_app.errors import AriNotFound, TelephonyError
from ari_app.speech.errors import SpeechError
from ari_app.speech.types import AudioGap, StreamEvent, TranscriptSegment

log = logging.getLogger(__name__)

FORK_ARG = "audio-fork"  # appArgs of the snoop channels (the dialer ignores them)
FORK_PREFIX = "fork-"  # every fork channel and bridge id starts with it
LEGS = (("customer", "in"), ("agent", "out"))
FORMATS = {"slin16": ("slin", 16000), "slin": ("slin", 8000), "ulaw": ("ulaw", 8000)}

Segment = dict[str, Any]
Sink = Callable[[str, Segment], Awaitable[None]]


class ForkControl(Protocol):
    """The ARI verbs a fork needs (``ari_app.ari.AriClient`` implements them)."""

    async def snoop(self, channel_id: str, *, snoop_id: str, spy: str = "in",
                    whisper: str = "none", app_args: str = "") -> object: ...

    async def external_media(self, *, channel_id: str, fmt: str = "slin16",
                             transport: str = "websocket", connection_type: str = "server",
                             encapsulation: str = "none",
                             host: str | None = None) -> ChannelInfo: ...

    async def open_media(self, connection_id: str, timeout: float | None = None) -> Any: ...

    async def create_bridge(self, bridge_id: str, name: str = "", kind: str = "mixing") -> None:
        ...

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None: ...

    async def destroy_bridge(self, bridge_id: str) -> None: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


class RecogniserLike(Protocol):
    async def open_stream(self, call_id: str, speaker: str, sample_rate: int,
                          encoding: str = "slin", prompt: str | None = None) -> Any: ...


class ForkState(enum.StrEnum):
    WAITING_RECOGNISER = "waiting_recogniser"
    BUILDING = "building"
    STREAMING = "streaming"
    BROKEN = "broken"
    STOPPED = "stopped"


_MOVES: dict[ForkState, frozenset[ForkState]] = {
    ForkState.WAITING_RECOGNISER: frozenset({ForkState.BUILDING, ForkState.STOPPED}),
    ForkState.BUILDING: frozenset({ForkState.STREAMING, ForkState.BROKEN, ForkState.STOPPED}),
    ForkState.STREAMING: frozenset({ForkState.BROKEN, ForkState.STOPPED}),
    ForkState.BROKEN: frozenset({ForkState.BUILDING, ForkState.STOPPED}),
    ForkState.STOPPED: frozenset(),
}


class IllegalForkTransition(SpeechError):
    """A fork state change the state machine does not allow."""


@dataclass(frozen=True, slots=True)
class ForkConfig:
    fmt: str = "slin16"  # what Asterisk sends: slin16 | slin | ulaw
    first_media_s: float = 1.5  # no audio this long after building: rebuild
    stall_s: float = 2.0  # audio stopped this long while the call is up: rebuild
    rebuild_backoff_s: float = 0.5
    max_rebuilds: int = 5
    recogniser_retry_s: float = 3.0  # recogniser unavailable: try to open a stream again
    close_timeout_s: float = 20.0  # after the call: wait this long for the last utterance
    min_gap_s: float = 0.3  # lost audio shorter than this is not reported

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"fork format must be one of {', '.join(FORMATS)}, not {self.fmt!r}")


@dataclass
class ForkStats:
    """What every fork of a manager did (for /status, tests and the bench)."""

    forks: int = 0
    segments: int = 0
    gaps: int = 0
    rebuilds: int = 0
    frames: int = 0
    # utterance end (in call time) -> handed to the sink, the last 1000 segments
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=1000))


class Timeline:
    """Maps recogniser stream time to call time: audio lost while a fork was down (or before
    a recogniser was there) shifts every later stream position by the lost time."""

    def __init__(self) -> None:
        self._positions: list[float] = [0.0]
        self._offsets: list[float] = [0.0]

    def shift(self, position: float, offset: float) -> None:
        self._positions.append(position)
        self._offsets.append(offset)

    @property
    def offset(self) -> float:
        return self._offsets[-1]

    def call_time(self, stream_time: float) -> float:
        i = max(0, bisect_right(self._positions, stream_time + 1e-9) - 1)
        return round(stream_time + self._offsets[i], 3)


class LegFork:
    """One speaker of one call: builds the fork, pumps its audio, rebuilds it, tears it down."""

    def __init__(self, call_id: str, channel_id: str, speaker: str, spy: str,
                 control: ForkControl, recogniser: RecogniserLike, sink: Sink,
                 config: ForkConfig, prompt: str | None, stats: ForkStats,
                 t0: float | None = None, clock: Callable[[], float] = time.monotonic,
                 lost_reason: str = "fork_starting") -> None:
        self.call_id, self.channel_id, self.speaker, self.spy = call_id, channel_id, speaker, spy
        self._control, self._recogniser, self._sink = control, recogniser, sink
        self._cfg, self._prompt, self._stats, self._clock = config, prompt, stats, clock
        self.t0 = clock() if t0 is None else t0
        self.state = ForkState.WAITING_RECOGNISER
        self.history: list[ForkState] = [self.state]
        self.rebuilds = 0
        self.frames = 0
        self.stopped_at: float | None = None  # call time when the call ended
        self.channels: tuple[str, str, str] | None = None  # snoop, media, bridge of this build
        self.built: list[tuple[str, str, str]] = []
        self.timeline = Timeline()
        self._covered = 0.0  # call time up to which audio went to the recogniser (or a gap)
        self._gap_reason = lost_reason  # why audio before the next frame was lost
        self._seq = itertools.count(1)
        self._stream: Any = None
        self._socket: Any = None
        self._consumer: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._out: asyncio.Queue[Segment | None] = asyncio.Queue()

    # ----------------------------------------------------------------- state --
    def move(self, to: ForkState) -> None:
        if to not in _MOVES[self.state]:
            raise IllegalForkTransition(f"fork {self.call_id}/{self.speaker}: "
                                        f"{self.state} -> {to} not allowed")
        self.state = to
        self.history.append(to)

    def now(self) -> float:
        """Call time: seconds since the call went live."""
        return self._clock() - self.t0

    # ------------------------------------------------------------------- run --
    async def run(self) -> None:
        deliverer = asyncio.create_task(self._deliver(),
                                        name=f"fork-deliver-{self.call_id}-{self.speaker}")
        try:
            while not self._stopping.is_set():
                if self._stream is None and not await self._open_stream():
                    await self._pause(self._cfg.recogniser_retry_s)
                    continue
                if self.state is not ForkState.BUILDING:
                    self.move(ForkState.BUILDING)
                try:
                    await self._build()
                except AriNotFound:
                    log.info("call %s %s: channel gone; no fork", self.call_id, self.speaker)
                    break
                except TelephonyError as exc:
                    log.warning("call %s %s: building the fork failed: %s",
                                self.call_id, self.speaker, exc)
                    self._gap_reason = "fork_failed"
                else:
                    self._gap_reason = await self._pump()
                await self._teardown()
                if self._stopping.is_set():
                    break
                self.move(ForkState.BROKEN)
                self.rebuilds += 1
                self._stats.rebuilds += 1
                if self.rebuilds > self._cfg.max_rebuilds:
                    log.error("call %s %s: fork broken %d times; giving up for this call",
                              self.call_id, self.speaker, self.rebuilds)
                    await self._stopping.wait()
                    break
                log.warning("call %s %s: fork %s; rebuilding (#%d)", self.call_id,
                            self.speaker, self._gap_reason, self.rebuilds)
                await self._pause(self._cfg.rebuild_backoff_s)
        finally:
            await self._teardown()
            await self._finish()
            self._out.put_nowait(None)
            await deliverer

    async def stop(self) -> None:
        """The call ended: stop reading (the run loop tears down and flushes)."""
        if self.stopped_at is None:
            self.stopped_at = self.now()
        self._stopping.set()
        if self._socket is not None:
            await self._socket.close()

    async def _pause(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass

    async def _open_stream(self) -> bool:
        encoding, rate = FORMATS[self._cfg.fmt]
        try:
            self._stream = await self._recogniser.open_stream(
                self.call_id, self.speaker, rate, encoding, self._prompt)
        except SpeechError as exc:
            if self._gap_reason != "recogniser_unavailable":  # once per outage, not per retry
                self._gap_reason = "recogniser_unavailable"
                log.warning("call %s %s: recogniser unavailable (%s); audio not transcribed",
                            self.call_id, self.speaker, exc)
            return False
        self._consumer = asyncio.create_task(self._consume(self._stream),
                                             name=f"fork-consume-{self.call_id}-{self.speaker}")
        return True

    async def _build(self) -> None:
        suffix = uuid.uuid4().hex[:12]  # fresh ids on every build (see module docstring)
        snoop_id, media_id, bridge_id = (f"{FORK_PREFIX}{kind}-{suffix}"
                                         for kind in ("snoop", "media", "br"))
        self.channels = (snoop_id, media_id, bridge_id)
        self.built.append(self.channels)
        await self._control.snoop(self.channel_id, snoop_id=snoop_id, spy=self.spy,
                                  app_args=FORK_ARG)
        media = await self._control.external_media(channel_id=media_id, fmt=self._cfg.fmt)
        self._socket = await self._control.open_media(media.media_connection_id)
        await self._control.create_bridge(bridge_id, name=f"fork {self.call_id}")
        for channel in (snoop_id, media_id):
            await self._add(bridge_id, channel)

    async def _add(self, bridge_id: str, channel: str) -> None:
        try:
            await self._control.add_to_bridge(bridge_id, channel)
        except AriNotFound:
            raise
        except TelephonyError:  # not in Stasis yet (422): once more, a moment later
            await asyncio.sleep(0.2)
            await self._control.add_to_bridge(bridge_id, channel)

    async def _pump(self) -> str:
        """Read the media socket until the call ends or the fork breaks; why it ended."""
        timeout, first = self._cfg.first_media_s, True
        while not self._stopping.is_set():
            try:
                frame = await self._socket.receive(timeout)
            except TimeoutError:
                return "fork_no_media" if first else "fork_stalled"
            if frame is None:
                return "fork_closed"
            if isinstance(frame, str):
                continue  # MEDIA_START and other control text
            if first:
                first, timeout = False, self._cfg.stall_s
                self._resume()
            self.frames += 1
            self._stats.frames += 1
            try:
                self._stream.feed_nowait(frame)
            except SpeechError as exc:  # odd-sized frame: skip it, keep the call's fork
                log.debug("call %s %s: frame dropped: %s", self.call_id, self.speaker, exc)
            self._covered = self.timeline.call_time(self._stream.position)
        return "stopped"

    def _resume(self) -> None:
        """Audio flows (again): align stream time with call time, report what was lost."""
        if self.state is not ForkState.STREAMING:
            self.move(ForkState.STREAMING)
        position, now = self._stream.position, self.now()
        lost_from = self.timeline.call_time(position)
        self.timeline.shift(position, now - position)
        if now - lost_from >= self._cfg.min_gap_s:
            self._gap(lost_from, now, self._gap_reason)

    async def _teardown(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()
        if self.channels is None:
            return
        snoop_id, media_id, bridge_id = self.channels
        self.channels = None
        for action in (self._control.hangup(media_id), self._control.destroy_bridge(bridge_id),
                       self._control.hangup(snoop_id)):
            try:
                await action
            except TelephonyError as exc:  # already gone (the snoop ends with the customer)
                log.debug("call %s %s: teardown: %s", self.call_id, self.speaker, exc)

    async def _finish(self) -> None:
        now = self.stopped_at if self.stopped_at is not None else self.now()  # the call's end
        if self.state is not ForkState.STREAMING and now - self._covered >= self._cfg.min_gap_s:
            self._gap(self._covered, now, self._gap_reason)
        if self.state is not ForkState.STOPPED:
            self.move(ForkState.STOPPED)
        if self._stream is not None:
            await self._stream.close(self._cfg.close_timeout_s)
        if self._consumer is not None:
            await self._consumer

    # ------------------------------------------------------------ segments --
    def _gap(self, start: float, end: float, reason: str) -> None:
        self._covered = max(self._covered, end)
        self._out.put_nowait({"segment_id": self._next_id(), "speaker": self.speaker,
                              "start_s": round(start, 3), "end_s": round(end, 3), "gap": True,
                              "reason": reason})

    def _next_id(self) -> str:
        return f"{self.call_id}:{self.speaker}:{next(self._seq)}"

    async def _consume(self, stream: AsyncIterator[StreamEvent]) -> None:
        async for event in stream:
            if isinstance(event, TranscriptSegment):
                self._out.put_nowait({
                    "segment_id": self._next_id(), "speaker": self.speaker,
                    "start_s": self.timeline.call_time(event.start),
                    "end_s": self.timeline.call_time(event.end), "text": event.text,
                    "confidence": event.confidence, "language": event.language})
            elif isinstance(event, AudioGap):
                self._gap(self.timeline.call_time(event.start),
                          self.timeline.call_time(event.end), event.reason.value)

    async def _deliver(self) -> None:
        """Hand segments to the sink in order (the sink is the durable outbox: fast)."""
        while (segment := await self._out.get()) is not None:
            try:
                await self._sink(self.call_id, segment)
            except Exception:
                log.exception("call %s %s: segment %s not recorded", self.call_id,
                              self.speaker, segment["segment_id"])
                continue
            if segment.get("gap"):
                self._stats.gaps += 1
            else:
                self._stats.segments += 1
                self._stats.latencies_s.append(round(self.now() - segment["end_s"], 3))
