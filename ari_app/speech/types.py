"""Public value types of the recogniser: what comes out of a stream."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class GapReason(enum.StrEnum):
    BACKPRESSURE = "backpressure"  # the worker fell behind; frames were dropped, not queued
    WORKER_DOWN = "worker_down"  # no worker was running (starting, restarting, stopped)
    WORKER_CRASHED = "worker_crashed"  # audio already sent to a worker that died


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """One utterance. ``start``/``end`` are seconds from the start of the stream."""

    call_id: str
    speaker: str
    start: float
    end: float
    text: str
    confidence: float  # exp(avg_logprob), 0..1
    avg_logprob: float
    language: str
    decode_s: float = 0.0  # the worker's time spent transcribing this utterance


@dataclass(frozen=True, slots=True)
class AudioGap:
    """Audio of the stream that was never recognised, and why."""

    call_id: str
    speaker: str
    start: float
    end: float
    reason: GapReason


StreamEvent = TranscriptSegment | AudioGap
