"""One supervised worker process, seen from the asyncio side (internal to the pool).

Spawns ``python -m ari_app.speech.worker``, sends it CONFIG, waits for READY, then runs three
tasks: a writer (draining a queue whose *audio* is bounded in seconds — when full, frames
are refused and the stream records a gap instead of the controller blocking), a reader
(dispatching SEGMENT/PROGRESS/CLOSED to streams) and a pinger (kills a worker whose reader
thread stops answering). When the process exits unexpectedly every stream records the lost
audio as a gap, and the worker is restarted after a back-off; live streams are re-opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ari_app.speech import protocol as p
from ari_app.speech.config import PoolConfig
from ari_app.speech.stream import RecogniserStream
from ari_app.speech.types import GapReason

log = logging.getLogger(__name__)
_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    DOWN = "down"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    index: int
    state: WorkerState
    pid: int | None
    restarts: int
    streams: int
    queued_s: float
    last_pong_age_s: float | None
    model: str | None


class WorkerHandle:
    def __init__(self, index: int, config: PoolConfig) -> None:
        self.index, self._cfg = index, config
        self.streams: dict[int, RecogniserStream] = {}
        self.state = WorkerState.STARTING
        self.restarts = 0
        self.model: str | None = None
        self.ready = asyncio.Event()
        self._queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self._queued_s = 0.0
        self._proc: asyncio.subprocess.Process | None = None
        self._last_pong: float | None = None
        self._stopping = False

    # ---- used by streams ------------------------------------------------------------------

    def offer_audio(self, stream: int, first: int, data: bytes, seconds: float) -> GapReason | None:
        if self.state is not WorkerState.READY:
            return GapReason.WORKER_DOWN
        if self._queued_s + seconds > self._cfg.max_buffer_s:
            return GapReason.BACKPRESSURE
        self._queued_s += seconds
        self._queue.put_nowait((p.encode_audio(stream, first, data), seconds))
        return None

    def send_open(self, stream: RecogniserStream, start: float) -> None:
        self._control(p.encode_json(p.Kind.OPEN, {
            "stream": stream.number, "encoding": stream.fmt.encoding.value,
            "sample_rate": stream.fmt.sample_rate, "start": start, "prompt": stream.prompt}))

    def send_close(self, number: int) -> bool:
        if self.state is not WorkerState.READY:
            return False
        self._control(p.encode_json(p.Kind.CLOSE, {"stream": number}))
        return True

    def _control(self, frame: bytes) -> None:
        self._queue.put_nowait((frame, 0.0))

    def health(self) -> WorkerHealth:
        age = None if self._last_pong is None else round(time.monotonic() - self._last_pong, 3)
        pid = self._proc.pid if self._proc and self._proc.returncode is None else None
        return WorkerHealth(self.index, self.state, pid, self.restarts, len(self.streams),
                            round(self._queued_s, 3), age, self.model)

    @property
    def pid(self) -> int | None:
        return self.health().pid

    # ---- supervision --------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a worker process alive until :meth:`stop`."""
        backoff = self._cfg.restart_backoff_s
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._serve_once()
            except Exception:
                log.exception("recogniser worker %d failed", self.index)
            self._lost()
            if self._stopping:
                break
            self.restarts += 1
            backoff = backoff if time.monotonic() - started < 30 else self._cfg.restart_backoff_s
            log.warning("recogniser worker %d exited; restart #%d in %.1f s",
                        self.index, self.restarts, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._cfg.max_backoff_s)
        self.state = WorkerState.STOPPED

    def _lost(self) -> None:
        self.state = WorkerState.DOWN
        self.ready.clear()
        self._queue = asyncio.Queue()
        self._queued_s = 0.0
        for stream in list(self.streams.values()):
            stream.worker_lost()
            if not stream.open:
                self.streams.pop(stream.number, None)

    async def _serve_once(self) -> None:
        self.state = WorkerState.STARTING
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])}
        proc = await asyncio.create_subprocess_exec(
            self._cfg.python, "-m", "ari_app.speech.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        self._proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.transport.set_write_buffer_limits(high=16384)  # type: ignore[attr-defined]
        proc.stdin.write(p.encode_json(p.Kind.CONFIG, self._cfg.worker_config()))
        tasks = [asyncio.create_task(self._read(proc), name=f"asr-read-{self.index}"),
                 asyncio.create_task(self._write(proc), name=f"asr-write-{self.index}"),
                 asyncio.create_task(self._ping(proc), name=f"asr-ping-{self.index}")]
        try:
            await proc.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length, kind = p.decode_header(await proc.stdout.readexactly(p.HEADER.size))
                self._dispatch(kind, p.decode_json(await proc.stdout.readexactly(length)))

    def _dispatch(self, kind: p.Kind, body: dict[str, Any]) -> None:
        if kind is p.Kind.READY:
            self._on_ready(body)
            return
        if kind is p.Kind.PONG:
            self._last_pong = time.monotonic()
            return
        if kind is p.Kind.ERROR:
            log.warning("recogniser worker %d: %s", self.index, body.get("message"))
            return
        stream = self.streams.get(int(body.get("stream", -1)))
        if stream is None:
            return
        if kind is p.Kind.SEGMENT:
            stream.on_segment(body)
        elif kind is p.Kind.PROGRESS:
            stream.on_progress(float(body["committed"]))
        elif kind is p.Kind.CLOSED:
            self.streams.pop(stream.number, None)
            stream.on_closed()

    def _on_ready(self, body: dict[str, Any]) -> None:
        self.model = body.get("model")
        self._last_pong = time.monotonic()
        for stream in self.streams.values():
            self.send_open(stream, stream.reopened())
        self.state = WorkerState.READY
        self.ready.set()
        log.info("recogniser worker %d ready (model %s, pid %s)",
                 self.index, self.model, body.get("pid"))

    async def _write(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None
        with contextlib.suppress(ConnectionError, BrokenPipeError):
            while True:
                frame, seconds = await self._queue.get()
                proc.stdin.write(frame)
                await proc.stdin.drain()
                self._queued_s = max(0.0, self._queued_s - seconds)

    async def _ping(self, proc: asyncio.subprocess.Process) -> None:
        spawned, seq = time.monotonic(), 0
        while True:
            await asyncio.sleep(self._cfg.ping_interval_s)
            now = time.monotonic()
            if self.state is not WorkerState.READY:
                if now - spawned > self._cfg.start_timeout_s:
                    log.error("recogniser worker %d not ready after %.0f s; killing pid %s",
                              self.index, now - spawned, proc.pid)
                    proc.kill()
                    return
                continue
            seq += 1
            self._control(p.encode_json(p.Kind.PING, {"seq": seq}))
            if self._last_pong and now - self._last_pong > self._cfg.ping_timeout_s:
                log.error("recogniser worker %d unresponsive; killing pid %s", self.index, proc.pid)
                proc.kill()
                return

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ConnectionError, BrokenPipeError, RuntimeError):
            assert proc.stdin is not None
            proc.stdin.write(p.encode_json(p.Kind.SHUTDOWN, {}))
            proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def kill(self) -> None:
        """Kill the process (tests and the health check); the supervisor restarts it."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
