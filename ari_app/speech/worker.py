"""The recogniser worker process: ``python -m ari_app.speech.worker``.

Reads framed messages (see ``protocol.py``) on stdin, writes results on stdout. A reader
thread answers PING at once (so a long transcription never looks like a hang) and queues the
rest; the main thread runs the per-stream pipelines and transcribes each finished utterance.

``engine: "fake"`` in CONFIG replaces Whisper by a stand-in that reports the utterance length
("speech 2.1s"), for exercising the plumbing without loading a model.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from typing import Any, BinaryIO, Protocol

import numpy as np

from ari_app.speech import protocol as p
from ari_app.speech.audio import TARGET_RATE, FloatArray, audio_format
from ari_app.speech.pipeline import StreamPipeline
from ari_app.speech.transcriber import Recognised, RecognitionConfig
from ari_app.speech.vad import SileroScorer, Utterance, VadConfig

log = logging.getLogger(__name__)
NO_SPEECH_DROP = 0.6
PROGRESS_EVERY_S = 1.0


class Engine(Protocol):
    def transcribe(self, audio: FloatArray, prompt: str | None = None) -> Recognised: ...


class FakeEngine:
    def transcribe(self, audio: FloatArray, prompt: str | None = None) -> Recognised:
        return Recognised(f"speech {len(audio) / TARGET_RATE:.1f}s", -0.1, 0.905, "en", 0.0)


class Writer:
    def __init__(self, out: BinaryIO) -> None:
        self._out, self._lock = out, threading.Lock()

    def send(self, kind: p.Kind, body: dict[str, Any]) -> None:
        frame = p.encode_json(kind, body)
        with self._lock:
            self._out.write(frame)
            self._out.flush()


def read_frames(inp: BinaryIO, inbox: queue.Queue[tuple[p.Kind, bytes] | None], w: Writer) -> None:
    try:
        while header := inp.read(p.HEADER.size):
            if len(header) < p.HEADER.size:
                break
            length, kind = p.decode_header(header)
            payload = inp.read(length)
            if kind is p.Kind.PING:
                w.send(p.Kind.PONG, p.decode_json(payload))
            else:
                inbox.put((kind, payload))
    finally:
        inbox.put(None)


class Worker:
    def __init__(self, engine: Engine, vad: VadConfig, writer: Writer) -> None:
        self._engine, self._vad, self._w = engine, vad, writer
        self._streams: dict[int, StreamPipeline] = {}
        self._last_progress: dict[int, float] = {}
        self._prompts: dict[int, str | None] = {}

    def handle(self, kind: p.Kind, payload: bytes) -> bool:
        """Process one message; False on SHUTDOWN."""
        if kind is p.Kind.AUDIO:
            stream, first, data = p.decode_audio(payload)
            pipe = self._streams.get(stream)
            if pipe is not None:
                self._emit(stream, pipe.feed(first, data))
                self._progress(stream, pipe)
        elif kind is p.Kind.OPEN:
            body = p.decode_json(payload)
            fmt = audio_format(body["encoding"], int(body["sample_rate"]))
            self._streams[body["stream"]] = StreamPipeline(
                fmt, SileroScorer(), self._vad, float(body.get("start", 0.0)))
            self._prompts[body["stream"]] = body.get("prompt") or None
        elif kind is p.Kind.CLOSE:
            stream = p.decode_json(payload)["stream"]
            pipe = self._streams.pop(stream, None)
            tail = pipe.flush() if pipe else None
            self._emit(stream, [tail] if tail else [])
            self._prompts.pop(stream, None)
            self._w.send(p.Kind.CLOSED, {"stream": stream})
        return kind is not p.Kind.SHUTDOWN

    def _progress(self, stream: int, pipe: StreamPipeline) -> None:
        if pipe.committed - self._last_progress.get(stream, -1e9) >= PROGRESS_EVERY_S:
            self._last_progress[stream] = pipe.committed
            self._w.send(p.Kind.PROGRESS, {"stream": stream, "committed": pipe.committed})

    def _emit(self, stream: int, utterances: list[Utterance]) -> None:
        for u in utterances:
            began = time.perf_counter()
            r = self._engine.transcribe(u.audio, self._prompts.get(stream))
            decode_s = time.perf_counter() - began
            if not r.text or (r.no_speech_prob > NO_SPEECH_DROP and r.avg_logprob < -1.0):
                continue
            self._w.send(p.Kind.SEGMENT, {
                "stream": stream, "start": round(u.start, 3), "end": round(u.end, 3),
                "text": r.text, "confidence": r.confidence, "avg_logprob": r.avg_logprob,
                "language": r.language, "decode_s": round(decode_s, 3),
            })
            self._w.send(p.Kind.PROGRESS, {"stream": stream, "committed": u.end})


def _configure(inp: BinaryIO) -> tuple[Engine, VadConfig, dict[str, Any]]:
    header = inp.read(p.HEADER.size)
    length, kind = p.decode_header(header)
    if kind is not p.Kind.CONFIG:
        raise SystemExit(f"first message must be CONFIG, got {kind.name}")
    body = p.decode_json(inp.read(length))
    vad = VadConfig(**body.get("vad", {}))
    if body.get("engine") == "fake":
        return FakeEngine(), vad, {"model": "fake"}
    from ari_app.speech.transcriber import Transcriber

    engine = Transcriber(RecognitionConfig.from_json(body["recognition"]))
    engine.transcribe(np.zeros(TARGET_RATE // 2, dtype=np.float32))  # warm-up
    return engine, vad, {"model": engine.resolved.name, "path": str(engine.resolved.path)}


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing may print into the protocol pipe
    writer = Writer(out)
    engine, vad, ready = _configure(inp)
    writer.send(p.Kind.READY, {**ready, "pid": os.getpid()})
    inbox: queue.Queue[tuple[p.Kind, bytes] | None] = queue.Queue()
    threading.Thread(target=read_frames, args=(inp, inbox, writer), daemon=True).start()
    worker = Worker(engine, vad, writer)
    while (item := inbox.get()) is not None:
        try:
            if not worker.handle(*item):
                break
        except Exception as exc:  # one bad message must not kill every call's recognition
            log.exception("worker: message %s failed", item[0].name)
            writer.send(p.Kind.ERROR, {"message": f"{type(exc).__name__}: {exc}"})
    out.flush()
    os._exit(0)  # the reader thread may sit in a blocking stdin read: do not join it


if __name__ == "__main__":
    main()
