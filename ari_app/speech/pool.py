"""RecogniserPool: speech recognition in worker processes, driven from asyncio.

    pool = RecogniserPool(PoolConfig(RecognitionConfig(model="base", vocabulary=("price",))))
    await pool.start()
    stream = await pool.open_stream("call-1", "customer", 16000, "slin")
    await stream.feed(frame)                  # 20 ms of PCM; never blocks
    async for event in stream: ...            # TranscriptSegment | AudioGap, live
    await stream.close(); await pool.stop()

Streams are spread over ``workers`` processes (fewest streams first). Each worker is
supervised: a crash or hang is a gap in the affected streams, then a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass

from ari_app.speech._handle import WorkerHandle, WorkerHealth, WorkerState
from ari_app.speech.audio import audio_format
from ari_app.speech.config import PoolConfig
from ari_app.speech.errors import RecogniserUnavailableError
from ari_app.speech.stream import RecogniserStream
from ari_app.tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PoolHealth:
    healthy: bool
    workers: tuple[WorkerHealth, ...]


class RecogniserPool:
    def __init__(self, config: PoolConfig) -> None:
        self._cfg = config
        self._handles: list[WorkerHandle] = []
        self._tasks = TaskSet(log)
        self._numbers = itertools.count(1)
        self._started = False

    @property
    def started(self) -> bool:
        return self._started

    def launch(self) -> None:
        """Spawn the workers without waiting for them: streams opened meanwhile record the
        audio until a worker is ready as a gap (``worker_down``)."""
        if self._started:
            return
        self._started = True
        self._handles = [WorkerHandle(i, self._cfg) for i in range(self._cfg.workers)]
        for handle in self._handles:
            self._tasks.spawn(handle.run(), f"asr-worker-{handle.index}")

    async def start(self) -> None:
        """Spawn the workers and wait until at least one is ready (loads the model)."""
        if self._started:
            return
        self.launch()
        waits = [asyncio.create_task(h.ready.wait()) for h in self._handles]
        done, pending = await asyncio.wait(waits, timeout=self._cfg.start_timeout_s,
                                           return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        if not done:
            await self.stop()
            raise RecogniserUnavailableError("no recogniser worker became ready")

    async def stop(self) -> None:
        for handle in self._handles:
            for stream in list(handle.streams.values()):
                stream.worker_lost()
        await asyncio.gather(*(h.stop() for h in self._handles), return_exceptions=True)
        await self._tasks.close()
        self._started = False

    async def __aenter__(self) -> RecogniserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def open_stream(self, call_id: str, speaker: str, sample_rate: int,
                          encoding: str = "slin", prompt: str | None = None) -> RecogniserStream:
        """A new stream for one speaker of one call. Works while a worker restarts too (the
        audio until it is back is a gap). ``prompt``: this stream's initial prompt (e.g. the
        campaign's vocabulary) instead of the pool's."""
        if not self._started or not self._handles:
            raise RecogniserUnavailableError("recogniser pool is not started")
        fmt = audio_format(encoding, sample_rate)
        # Speaker lanes: customers on even workers, agents on odd ones (with 2+ workers), so
        # an agent's backlog (they talk most, and the last call's tail is still decoding)
        # never queues a customer's words, which the in-call rules wait for.
        lane = [h for h in self._handles
                if h.index % 2 == (0 if speaker == "customer" else 1)] or self._handles
        if not any(h.state is WorkerState.READY for h in lane):
            lane = self._handles
        handle = min(lane, key=lambda h: (h.state is not WorkerState.READY, len(h.streams)))
        stream = RecogniserStream(next(self._numbers), call_id, speaker, fmt, handle)
        stream.prompt = prompt
        handle.streams[stream.number] = stream
        handle.send_open(stream, 0.0)
        log.debug("call %s %s: stream %d on worker %d", call_id, speaker, stream.number,
                  handle.index)
        return stream

    def health(self) -> PoolHealth:
        workers = tuple(h.health() for h in self._handles)
        return PoolHealth(any(w.state is WorkerState.READY for w in workers), workers)

    def worker_pids(self) -> tuple[int | None, ...]:
        return tuple(h.pid for h in self._handles)

    def kill_worker(self, index: int = 0) -> None:
        """Kill one worker process (for fault drills); its supervisor restarts it."""
        self._handles[index].kill()
