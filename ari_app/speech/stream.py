"""The asyncio face of one audio stream (one speaker of one call)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from ari_app.speech.audio import AudioFormat
from ari_app.speech.errors import AudioFormatError, RecogniserUnavailableError
from ari_app.speech.types import AudioGap, GapReason, StreamEvent, TranscriptSegment

log = logging.getLogger(__name__)


class StreamWorker(Protocol):
    """The worker a stream's audio goes to (``ari_app.speech._handle.WorkerHandle``)."""

    def offer_audio(self, stream: int, first: int, data: bytes,
                    seconds: float) -> GapReason | None:
        """Queue ``data`` (from sample ``first``) for the worker; the reason it was dropped,
        or None."""
        ...

    def send_close(self, number: int) -> bool:
        """Ask the worker to finish stream ``number``; False when it is not up."""
        ...


class RecogniserStream:
    """Feed PCM frames with :meth:`feed` (never blocks); iterate to get
    :class:`TranscriptSegment` and :class:`AudioGap` events as they happen. The iterator ends
    after :meth:`close` once the worker has transcribed the tail of the stream."""

    def __init__(self, number: int, call_id: str, speaker: str, fmt: AudioFormat,
                 handle: StreamWorker) -> None:
        self.number, self.call_id, self.speaker, self.fmt = number, call_id, speaker, fmt
        self._handle = handle
        self._events: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        self._next_sample = 0
        self._committed = 0.0
        self._gap: tuple[float, float, GapReason] | None = None
        self._gaps: list[AudioGap] = []
        self._closing = False
        self._finished = asyncio.Event()
        self.prompt: str | None = None  # initial prompt for this stream (None: the pool's)

    # ---- producer side ----------------------------------------------------------------------

    @property
    def position(self) -> float:
        """Seconds of audio fed so far (stream time)."""
        return self._next_sample / self.fmt.sample_rate

    @property
    def gaps(self) -> tuple[AudioGap, ...]:
        return tuple(self._gaps)

    def feed_nowait(self, data: bytes) -> bool:
        """Hand one frame over; False when it was dropped (recorded as a gap)."""
        if self._closing:
            raise RecogniserUnavailableError(f"stream {self.call_id}/{self.speaker} is closed")
        if len(data) % self.fmt.bytes_per_sample:
            raise AudioFormatError(f"{len(data)} bytes is not whole {self.fmt.encoding} samples")
        first = self._next_sample
        self._next_sample += len(data) // self.fmt.bytes_per_sample
        reason = self._handle.offer_audio(self.number, first, data, self.fmt.seconds(len(data)))
        if reason is None:
            self._end_gap()
            return True
        self._extend_gap(first / self.fmt.sample_rate, self.position, reason)
        return False

    async def feed(self, data: bytes) -> bool:
        return self.feed_nowait(data)

    async def close(self, timeout: float = 30.0) -> None:
        """Stop feeding; wait (bounded) for the last utterance, then end the iterator."""
        if self._closing:
            await self._finished.wait()
            return
        self._closing = True
        self._end_gap()
        if self._handle.send_close(self.number):
            try:
                async with asyncio.timeout(timeout):
                    await self._finished.wait()
                return
            except TimeoutError:
                log.warning("call %s %s: recogniser did not finish in %.0f s",
                            self.call_id, self.speaker, timeout)
        self.worker_lost()

    # ---- consumer side ----------------------------------------------------------------------

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def segments(self) -> AsyncIterator[TranscriptSegment]:
        async for event in self:
            if isinstance(event, TranscriptSegment):
                yield event

    # ---- called by the worker handle ----------------------------------------------------

    @property
    def open(self) -> bool:
        return not self._closing

    def on_segment(self, body: dict[str, Any]) -> None:
        self._committed = max(self._committed, float(body["end"]))
        self._events.put_nowait(TranscriptSegment(
            call_id=self.call_id, speaker=self.speaker, start=float(body["start"]),
            end=float(body["end"]), text=str(body["text"]),
            confidence=float(body["confidence"]), avg_logprob=float(body["avg_logprob"]),
            language=str(body["language"]), decode_s=float(body.get("decode_s", 0.0)),
        ))

    def on_progress(self, committed: float) -> None:
        self._committed = max(self._committed, committed)

    def reopened(self) -> float:
        """A new worker takes the stream over from here (stream time, seconds)."""
        self._committed = max(self._committed, self.position)
        return self.position

    def on_closed(self) -> None:
        self._finish()

    def worker_lost(self) -> None:
        """The worker died: audio sent but not yet recognised is lost."""
        if self._finished.is_set():
            return
        if self.position > self._committed:
            start = min(self._committed, self._gap[0]) if self._gap else self._committed
            self._gap = (start, self.position, GapReason.WORKER_CRASHED)
        if self._closing:
            self._end_gap()
            self._finish()

    def _finish(self) -> None:
        if not self._finished.is_set():
            self._finished.set()
            self._events.put_nowait(None)

    def _extend_gap(self, start: float, end: float, reason: GapReason) -> None:
        if self._gap is None:
            self._gap = (start, end, reason)
        else:
            self._gap = (self._gap[0], end, self._gap[2])

    def _end_gap(self) -> None:
        if self._gap is None:
            return
        start, end, reason = self._gap
        self._gap = None
        gap = AudioGap(self.call_id, self.speaker, round(start, 3), round(end, 3), reason)
        self._gaps.append(gap)
        self._events.put_nowait(gap)
        log.info("call %s %s: recognition gap %.2f-%.2f s (%s)",
                 self.call_id, self.speaker, gap.start, gap.end, reason.value)
