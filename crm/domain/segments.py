"""Transcript segments as the dialer pushes them: validation into a typed value (pure).

A segment is ``{"segment_id", "speaker": "customer"|"agent", "start_s", "end_s", "text",
"confidence": float|None, "language": str|None}`` or a gap marker ``{"segment_id", "speaker",
"start_s", "end_s", "gap": true, "reason"}``. ``segment_id`` is the idempotency key (per call).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm.errors import InvalidInputError

SPEAKERS = ("customer", "agent")
MAX_ID = 128
MAX_SEGMENT_ID = 255  # the dialer uses "{call_id}:{speaker}:{seq}"
MAX_TEXT = 10_000
MAX_REASON = 200
MAX_LANGUAGE = 16
_KEYS = {"segment_id", "speaker", "start_s", "end_s", "text", "confidence", "language", "gap",
         "reason", "call_id"}


@dataclass(frozen=True, slots=True)
class Segment:
    call_id: str
    segment_id: str
    speaker: str
    start_s: float
    end_s: float
    text: str | None = None
    confidence: float | None = None
    language: str | None = None
    gap: bool = False
    reason: str | None = None


def _ident(value: Any, field: str, limit: int = MAX_ID) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise InvalidInputError(field, f"{field} is required (a non-empty string)")
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidInputError(field, f"{field} is longer than {limit}")
    return text


def _seconds(value: Any, field: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidInputError(field, f"{field} must be a number of seconds")
    if value < 0:
        raise InvalidInputError(field, f"{field} must be >= 0")
    return float(value)


def _optional_str(data: Mapping[str, Any], field: str, limit: int) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(field, f"{field} must be a string or null")
    if len(value) > limit:
        raise InvalidInputError(field, f"{field} is longer than {limit}")
    return value.strip() or None


def _confidence(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidInputError("confidence", "confidence must be a number in [0, 1] or null")
    if not 0.0 <= value <= 1.0:
        raise InvalidInputError("confidence", "confidence must be in [0, 1]")
    return float(value)


def parse_segment(call_id: str, data: Any) -> Segment:
    """Validate one pushed segment; raises :class:`InvalidInputError` naming the field."""
    call = _ident(call_id, "call_id")
    if not isinstance(data, Mapping):
        raise InvalidInputError("body", "expected a JSON object (one transcript segment)")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InvalidInputError(unknown[0], f"unknown field {unknown[0]!r}")
    if data.get("call_id") is not None and str(data["call_id"]) != call:
        raise InvalidInputError("call_id", "call_id in the body differs from the path")
    speaker = data.get("speaker")
    if speaker not in SPEAKERS:
        raise InvalidInputError("speaker", f"speaker must be one of {list(SPEAKERS)}")
    start, end = _seconds(data.get("start_s"), "start_s"), _seconds(data.get("end_s"), "end_s")
    if end < start:
        raise InvalidInputError("end_s", "end_s must be >= start_s")
    gap = data.get("gap", False)
    if not isinstance(gap, bool):
        raise InvalidInputError("gap", "gap must be true or false")
    segment_id = _ident(data.get("segment_id"), "segment_id", MAX_SEGMENT_ID)
    base = {"call_id": call, "segment_id": segment_id, "speaker": speaker, "start_s": start,
            "end_s": end}
    if gap:
        reason = _optional_str(data, "reason", MAX_REASON)
        if reason is None:
            raise InvalidInputError("reason", "a gap marker needs a reason")
        return Segment(**base, gap=True, reason=reason)
    text = data.get("text")
    if not isinstance(text, str):
        raise InvalidInputError("text", "text is required (a string) unless gap is true")
    if len(text) > MAX_TEXT:
        raise InvalidInputError("text", f"text is longer than {MAX_TEXT}")
    return Segment(
        **base,
        text=text.strip(),
        confidence=_confidence(data.get("confidence")),
        language=_optional_str(data, "language", MAX_LANGUAGE),
    )
