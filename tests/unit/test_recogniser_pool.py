"""RecogniserPool end to end through a real worker process (fake engine: no model needed),
plus one recognition with each shipped model on espeak-ng speech."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import wave

import numpy as np
import pytest

from ari_app.speech import (
    AudioGap,
    GapReason,
    PoolConfig,
    RecogniserPool,
    RecogniserUnavailableError,
    RecognitionConfig,
    TranscriptSegment,
)
from ari_app.speech.audio import encode_ulaw, resample, to_float

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def speak(tmp_path, text):
    path = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    with wave.open(str(path)) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return to_float(pcm), rate


def call_audio(tmp_path, *texts, rate=16000):
    silence = np.zeros(rate, dtype=np.float32)
    parts = [silence]
    for text in texts:
        x, r = speak(tmp_path, text)
        parts += [resample(x, r, rate), silence]
    return np.concatenate(parts)


def slin(x):
    return np.clip(x * 32767, -32768, 32767).astype("<i2").tobytes()


async def feed_all(stream, data, frame_bytes, pace=0.0):
    for i in range(0, len(data), frame_bytes):
        await stream.feed(data[i : i + frame_bytes])
        await asyncio.sleep(pace)


async def collect(stream):
    return [event async for event in stream]


@pytest.fixture
async def fake_pool():
    pool = RecogniserPool(PoolConfig(engine="fake", restart_backoff_s=0.1, max_buffer_s=2.0))
    await pool.start()
    yield pool
    await pool.stop()


async def test_given_two_sentences_when_streaming_then_segments_live_in_order(fake_pool, tmp_path):
    audio = slin(call_audio(tmp_path, "The price is too expensive.", "Call me next week."))
    stream = await fake_pool.open_stream("call-1", "customer", 16000, "slin")
    events = asyncio.create_task(collect(stream))
    await feed_all(stream, audio, 640, pace=0.001)
    await stream.close()
    segments = [e for e in await events if isinstance(e, TranscriptSegment)]
    assert len(segments) == 2 and segments[0].end < segments[1].start
    assert {s.call_id for s in segments} == {"call-1"} and segments[0].speaker == "customer"
    assert stream.gaps == ()


async def test_given_worker_behind_when_feeding_then_drops_with_gap_never_blocks(
        fake_pool, tmp_path):
    audio = slin(call_audio(tmp_path, "Hello there."))
    stream = await fake_pool.open_stream("call-2", "customer", 16000, "slin")
    events = asyncio.create_task(collect(stream))
    accepted = [stream.feed_nowait(audio[i : i + 640]) for i in range(0, len(audio), 640)]
    await stream.close()
    gaps = [e for e in await events if isinstance(e, AudioGap)]
    assert not all(accepted)
    assert gaps and gaps[0].reason is GapReason.BACKPRESSURE and gaps[0].start >= 1.9


async def test_given_worker_killed_when_streaming_then_gap_recorded_and_worker_restarted(
        fake_pool, tmp_path):
    audio = slin(call_audio(tmp_path, "First sentence here.", "Second sentence after the crash."))
    stream = await fake_pool.open_stream("call-3", "agent", 16000, "slin")
    events = asyncio.create_task(collect(stream))
    half = len(audio) // 2 // 640 * 640
    await feed_all(stream, audio[:half], 640, pace=0.001)
    old_pid = fake_pool.worker_pids()[0]
    fake_pool.kill_worker(0)
    await feed_all(stream, audio[half : half + 64000], 640, pace=0.002)  # while restarting
    async with asyncio.timeout(20):
        while not fake_pool.health().healthy:
            await feed_all(stream, audio[half : half + 640], 640, pace=0.02)
    await feed_all(stream, audio[half:], 640, pace=0.001)
    await stream.close()
    got = await events
    gaps = [e for e in got if isinstance(e, AudioGap)]
    assert gaps and gaps[0].reason is GapReason.WORKER_CRASHED
    assert fake_pool.worker_pids()[0] not in (None, old_pid)
    assert fake_pool.health().workers[0].restarts == 1
    assert any(isinstance(e, TranscriptSegment) and e.start > gaps[0].end for e in got)


async def test_given_pool_not_started_when_opening_then_unavailable():
    with pytest.raises(RecogniserUnavailableError):
        await RecogniserPool(PoolConfig(engine="fake")).open_stream("c", "customer", 8000, "ulaw")


@pytest.mark.parametrize(
    ("model", "rate", "encoding", "text", "expected"),
    [
        ("tiny.en", 16000, "slin", "The price is too expensive for us.", {"price", "expensive"}),
        ("base", 8000, "ulaw", "Can you send me a quote by email?", {"send", "quote", "email"}),
    ],
)
async def test_given_spoken_sentence_when_recognising_then_transcribed(
        tmp_path, model, rate, encoding, text, expected):
    x = call_audio(tmp_path, text, rate=rate)
    pcm = np.clip(x * 32767, -32768, 32767).astype(np.int16)
    data = encode_ulaw(pcm) if encoding == "ulaw" else pcm.astype("<i2").tobytes()
    frame = rate // 50 * (1 if encoding == "ulaw" else 2)
    config = PoolConfig(RecognitionConfig(model=model), max_buffer_s=30.0)
    async with RecogniserPool(config) as pool:
        stream = await pool.open_stream("call-9", "customer", rate, encoding)
        events = asyncio.create_task(collect(stream))
        await feed_all(stream, data, frame)
        await stream.close(timeout=60)
    [segment] = [e for e in await events if isinstance(e, TranscriptSegment)]
    # "e-mail" and "email" are the same word
    words = set(segment.text.lower().replace("?", " ").replace(".", " ").replace("-", "").split())
    assert expected <= words, segment.text
    assert segment.language == "en" and 0 < segment.confidence <= 1
