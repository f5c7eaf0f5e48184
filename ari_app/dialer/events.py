"""Events the dialer publishes (past tense), and their wire form for the CRM.

Every event has an id chosen when it happens (a UUID), so the CRM can store it
exactly once however often it is delivered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ari_app.dialer.model import AgentState, CallAttempt, Outcome


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def new_event_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class CallEvent:
    """One step of a call, in the CRM's call-event vocabulary.

    ``type`` is one of originated, answered, bridged, ended, recording_ready,
    disposition_set, wrapup_ended.
    """

    type: str
    call_id: str
    occurred_at: float
    attrs: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=new_event_id)

    def payload(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "type": self.type,
            "occurred_at": _now_iso(self.occurred_at),
            **{k: v for k, v in self.attrs.items() if v is not None},
        }


def call_identity(call: CallAttempt) -> dict[str, Any]:
    return {
        "campaign_id": call.campaign_id,
        "lead_id": call.lead_id,
        "customer_id": call.customer_id,
        "number_dialed": call.number,
        "agent_id": call.agent_id,
    }


def originated(call: CallAttempt) -> CallEvent:
    return CallEvent("originated", call.call_id, call.originated_at, call_identity(call))


def answered(call: CallAttempt, at: float) -> CallEvent:
    return CallEvent("answered", call.call_id, at, {"amd_status": call.amd_status})


def bridged(call: CallAttempt) -> CallEvent:
    at = call.bridged_at or 0.0
    return CallEvent("bridged", call.call_id, at, {"agent_id": call.agent_id})


def ended(call: CallAttempt, outcome: Outcome) -> CallEvent:
    return CallEvent(
        "ended",
        call.call_id,
        call.ended_at or 0.0,
        {
            **call_identity(call),
            "outcome": outcome.value,
            "hangup_cause": None if call.hangup_cause is None else str(call.hangup_cause),
            "talk_seconds": round(call.talk_seconds, 3),
            "hold_seconds": round(call.hold_seconds, 1),
            "dial_status": call.dial_status,
            # a call closed without its hang-up event (reconcile, subscription_check), and
            # whose end time it carries (asterisk: the hangup handler's; controller: now)
            **{k: call.extra[k] for k in ("closed_by", "end_source") if k in call.extra},
        },
    )


def recording_ready(call_id: str, at: float, url: str, seconds: float | None) -> CallEvent:
    return CallEvent("recording_ready", call_id, at, {"recording_url": url,
                                                      "recording_seconds": seconds})


def disposition_set(
    call_id: str, at: float, disposition: str, wrap_seconds: float, agent_id: str,
    callback_at: str | None = None, note: str | None = None,
) -> CallEvent:
    return CallEvent(
        "disposition_set",
        call_id,
        at,
        {"disposition": disposition, "wrap_seconds": round(wrap_seconds, 3),
         "agent_id": agent_id, "callback_at": callback_at, "note": note},
    )


@dataclass(frozen=True)
class AgentStateChanged:
    agent_id: str
    campaign_id: str
    previous: AgentState
    state: AgentState
    at: float
    pause_code: str | None = None
    call_id: str | None = None
    until: float | None = None  # when the state ends by itself (the wrap-up limit), epoch s


@dataclass(frozen=True)
class ScreenPop:
    """The dialer decided to call for ``agent_id`` (or bridged a customer to them)."""

    agent_id: str
    call_id: str
    customer_id: str
    lead_id: str
    campaign_id: str
    number: str
    state: str  # offered (preview), ringing, connected, ended
    at: float


@dataclass(frozen=True)
class CampaignAlarm:
    """Something a manager must see: the hopper ran dry, the CRM is unreachable, …"""

    campaign_id: str
    kind: str
    message: str
    at: float


@dataclass(frozen=True)
class LeadsClaimed:
    """The hopper claimed these customers' leads: their pops are coming (prefetch them)."""

    campaign_id: str
    customer_ids: tuple[str, ...]
    at: float
