"""Call events (what the dialer pushes) and the pure projection of a call from its events.

The CRM stores every event once (keyed by ``event_id``) and rebuilds the ``calls`` row by folding
*all* the call's events in ``occurred_at`` order, so events may arrive late or out of order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crm.errors import InvalidInputError

MAX_ID_LENGTH = 128


class CallEventType(StrEnum):
    ORIGINATED = "originated"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ENDED = "ended"
    RECORDING_READY = "recording_ready"
    DISPOSITION_SET = "disposition_set"
    INTENT_SCORED = "intent_scored"
    WRAPUP_ENDED = "wrapup_ended"
    UPDATED = "updated"
    CDR_CHECKED = "cdr_checked"  # Asterisk's CDR compared with our durations (not projected)


_ALIASES = {
    "connected": "answered",
    "hungup": "ended",
    "hangup": "ended",
    "hung_up": "ended",
    "dialing": "originated",
    "recording": "recording_ready",
    "disposition": "disposition_set",
}


class CallState(StrEnum):
    ORIGINATED = "originated"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ENDED = "ended"


_STAGE = {
    CallEventType.ORIGINATED: CallState.ORIGINATED,
    CallEventType.RINGING: CallState.RINGING,
    CallEventType.ANSWERED: CallState.ANSWERED,
    CallEventType.BRIDGED: CallState.BRIDGED,
    CallEventType.ENDED: CallState.ENDED,
}
_STAGE_ORDER = list(CallState)

# optional string attributes an event may carry, with their maximum length (the column's)
_STR_LIMITS = {
    "customer_id": 128,
    "campaign_id": 128,
    "lead_id": 128,
    "agent_id": 128,
    "number_dialed": 64,
    "outcome": 32,
    "hangup_cause": 64,
    "recording_url": 2048,
    "disposition": 64,
    "closed_by": 32,  # the dialer closed the call without its hang-up event (reconcile, ...)
}
_STR_FIELDS = tuple(_STR_LIMITS)
_NUM_FIELDS = ("talk_seconds", "wrap_seconds", "hold_seconds", "intent_score")
# kept in the event stream only (the CDR cross-check), never projected onto the call row
_EVENT_ONLY_NUM = ("cdr_billsec", "answered_seconds", "cdr_delta_seconds", "cdr_records")
_EVENT_ONLY_STR = {"cdr_disposition": 32, "end_source": 16}  # end_source: asterisk, controller
_EVENT_ONLY_BOOL = ("cdr_mismatch",)
_EVENT_ONLY = (*_EVENT_ONLY_NUM, *_EVENT_ONLY_STR, *_EVENT_ONLY_BOOL)


@dataclass(frozen=True)
class CallEvent:
    event_id: str
    call_id: str
    type: CallEventType
    occurred_at: datetime
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "type": self.type.value,
            "occurred_at": self.occurred_at.isoformat(),
            **self.attrs,
        }


@dataclass(frozen=True)
class CallProjection:
    call_id: str
    state: CallState = CallState.ORIGINATED
    customer_id: str | None = None
    campaign_id: str | None = None
    lead_id: str | None = None
    agent_id: str | None = None
    number_dialed: str | None = None
    originated_at: datetime | None = None
    answered_at: datetime | None = None
    bridged_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    hangup_cause: str | None = None
    talk_seconds: float | None = None
    wrap_seconds: float | None = None
    hold_seconds: float | None = None
    recording_url: str | None = None
    disposition: str | None = None
    intent_score: float | None = None
    closed_by: str | None = None
    last_event_at: datetime | None = None
    event_count: int = 0


def parse_timestamp(raw: object, field_name: str) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = datetime.fromtimestamp(raw, UTC)
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(field_name, "not an ISO 8601 timestamp") from None
    else:
        raise InvalidInputError(field_name, "expected an ISO 8601 timestamp")
    if value.tzinfo is None:
        raise InvalidInputError(field_name, "timestamp needs a UTC offset")
    return value.astimezone(UTC)


def _required_id(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise InvalidInputError(key, f"{key} is required")
    text = str(value).strip()
    if len(text) > MAX_ID_LENGTH:
        raise InvalidInputError(key, f"{key} is longer than {MAX_ID_LENGTH}")
    return text


def _event_type(data: Mapping[str, Any]) -> CallEventType:
    raw = data.get("type", data.get("event", data.get("status")))
    if not isinstance(raw, str):
        raise InvalidInputError("type", "type is required")
    name = raw.strip().lower()
    try:
        return CallEventType(_ALIASES.get(name, name))
    except ValueError:
        allowed = ", ".join(t.value for t in CallEventType)
        raise InvalidInputError("type", f"unknown event type {raw!r}; one of {allowed}") from None


def _attrs(data: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key in _STR_FIELDS:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidInputError(key, f"{key} must be a string")
        if len(str(value)) > _STR_LIMITS[key]:
            raise InvalidInputError(key, f"{key} is longer than {_STR_LIMITS[key]}")
        attrs[key] = str(value)
    for key in _NUM_FIELDS:
        value = data.get(key, data.get("duration") if key == "talk_seconds" else None)
        if value is None:
            continue
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not math.isfinite(value):
            raise InvalidInputError(key, f"{key} must be a number")
        if value < 0 or (key == "intent_score" and value > 1):
            raise InvalidInputError(key, f"{key} is out of range")
        attrs[key] = float(value)
    _event_only_attrs(data, attrs)
    return attrs


def _event_only_attrs(data: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    for key in _EVENT_ONLY_NUM:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            raise InvalidInputError(key, f"{key} must be a number")
        attrs[key] = float(value)
    for key, limit in _EVENT_ONLY_STR.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidInputError(key, f"{key} must be a string of at most {limit}")
        attrs[key] = value
    for key in _EVENT_ONLY_BOOL:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise InvalidInputError(key, f"{key} must be true or false")
        attrs[key] = value


def parse_call_event(data: Mapping[str, Any], now: datetime) -> CallEvent:
    """Validate a pushed event (a JSON object) into a :class:`CallEvent`.

    Required: ``event_id``, ``call_id``, ``type`` (aliases: ``connected``, ``hungup``, …).
    ``occurred_at`` defaults to ``now``. Raises :class:`InvalidInputError` naming the field.
    """
    if not isinstance(data, Mapping):
        raise InvalidInputError("body", "expected a JSON object")
    raw_at = data.get("occurred_at")
    return CallEvent(
        event_id=_required_id(data, "event_id"),
        call_id=_required_id(data, "call_id"),
        type=_event_type(data),
        occurred_at=now if raw_at is None else parse_timestamp(raw_at, "occurred_at"),
        attrs=_attrs(data),
    )


def _apply(call: CallProjection, event: CallEvent) -> CallProjection:
    changes: dict[str, Any] = {k: v for k, v in event.attrs.items() if k not in _EVENT_ONLY}
    stage = _STAGE.get(event.type)
    if stage is not None:
        stamp = f"{stage.value}_at"
        if stage is not CallState.RINGING and getattr(call, stamp) is None:
            changes[stamp] = event.occurred_at
        if _STAGE_ORDER.index(stage) > _STAGE_ORDER.index(call.state):
            changes["state"] = stage
    return replace(
        call, **changes, last_event_at=event.occurred_at, event_count=call.event_count + 1
    )


def _finish(call: CallProjection) -> CallProjection:
    changes: dict[str, Any] = {}
    if call.talk_seconds is None and call.answered_at and call.ended_at:
        changes["talk_seconds"] = max(0.0, (call.ended_at - call.answered_at).total_seconds())
    if call.outcome is None and call.state is CallState.ENDED:
        changes["outcome"] = "answered" if call.answered_at else "no_answer"
    return replace(call, **changes) if changes else call


def project_call(call_id: str, events: Iterable[CallEvent]) -> CallProjection:
    """Fold events (any arrival order) into the call's current record."""
    ordered = sorted(events, key=lambda e: e.occurred_at)
    call = CallProjection(call_id=call_id)
    for event in ordered:
        call = _apply(call, event)
    return _finish(call)
