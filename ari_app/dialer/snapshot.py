"""The dialer's state for readers: frozen dataclasses, read by attribute.

:meth:`ari_app.dialer.engine.Dialer.snapshot` builds a :class:`DialerSnapshot` at one instant
(agents logged in, campaigns configured, calls in flight, outbox lanes, CDR cross-check); the
console, wallboard, metrics, status and agent pages read it. ``as_json()`` is the one place each
is turned into the JSON the HTTP API and the WebSocket pushes send (keys and their order are
part of that contract: ``GET /api/dialer/status``, the wallboard, the agent view).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ari_app.dialer.model import AgentState, CallPhase, DialMode


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent_id: str
    state: AgentState
    extension: str = ""
    campaign_id: str = ""
    seconds_in_state: float = 0.0
    pause_code: str | None = None
    call_id: str | None = None
    senior: bool = False
    on_hold: bool = False  # the agent's customer hears music on hold
    muted: bool = False  # the agent's audio toward the customer is muted
    hold_seconds: float = 0.0  # this call's time on hold so far

    @classmethod
    def logged_out(cls, agent_id: str) -> AgentSnapshot:
        return cls(agent_id, AgentState.LOGGED_OUT)

    @property
    def seniority(self) -> str:
        return "senior" if self.senior else "standard"

    def as_json(self) -> dict[str, Any]:
        if self.state is AgentState.LOGGED_OUT:
            return {"agent_id": self.agent_id, "state": self.state.value}
        return {"agent_id": self.agent_id, "extension": self.extension,
                "campaign_id": self.campaign_id, "state": self.state.value,
                "seconds_in_state": self.seconds_in_state, "pause_code": self.pause_code,
                "call_id": self.call_id, "seniority": self.seniority,
                "on_hold": self.on_hold, "muted": self.muted,
                "hold_seconds": self.hold_seconds}


@dataclass(frozen=True, slots=True)
class CampaignSnapshot:
    campaign_id: str
    name: str
    mode: DialMode
    running: bool
    alarm: str | None
    pacing: str
    pacing_reason: str
    hopper: int
    dials: int
    live_answers: int
    abandons: int
    machines: int
    connects: int
    abandon_rate: float
    abandon_target: float

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id, "name": self.name, "mode": self.mode.value,
            "running": self.running, "alarm": self.alarm,
            "pacing": self.pacing, "pacing_reason": self.pacing_reason,
            "hopper": self.hopper,
            "dials": self.dials, "live_answers": self.live_answers, "abandons": self.abandons,
            "machines": self.machines, "connects": self.connects,
            "abandon_rate": self.abandon_rate, "abandon_target": self.abandon_target,
        }


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    call_id: str
    campaign_id: str
    number: str
    phase: CallPhase
    agent_id: str | None

    def as_json(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "campaign_id": self.campaign_id, "number": self.number,
                "phase": self.phase.value, "agent_id": self.agent_id}


@dataclass(frozen=True, slots=True)
class ForwarderSnapshot:
    """One outbox lane's delivery counters (since this process started)."""

    lane: str
    delivered: int
    failures: int
    last_error: str | None
    last_lag_s: float | None

    def as_json(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "failures": self.failures,
                "last_error": self.last_error, "last_lag_s": self.last_lag_s}


@dataclass(frozen=True, slots=True)
class CdrSnapshot:
    """The CDR cross-check's counters (:class:`ari_app.dialer.cdr.CdrCrossCheck`)."""

    checked: int = 0
    mismatched: int = 0
    missing: int = 0
    max_abs_delta_s: float = 0.0
    pending: int = 0
    tolerance_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "mismatched": self.mismatched, "missing": self.missing,
                "max_abs_delta_s": self.max_abs_delta_s, "pending": self.pending,
                "tolerance_s": self.tolerance_s}


@dataclass(frozen=True, slots=True)
class DialerSnapshot:
    worker: str
    agents: tuple[AgentSnapshot, ...] = ()  # logged in only
    campaigns: tuple[CampaignSnapshot, ...] = ()
    calls: tuple[CallSnapshot, ...] = ()  # in flight (not ended)
    forwarders: tuple[ForwarderSnapshot, ...] = ()
    cdr: CdrSnapshot = CdrSnapshot()

    def agent(self, agent_id: str) -> AgentSnapshot | None:
        return next((a for a in self.agents if a.agent_id == agent_id), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "agents": [a.as_json() for a in self.agents],
            "campaigns": [c.as_json() for c in self.campaigns],
            "calls": [c.as_json() for c in self.calls],
            "forwarders": {f.lane: f.as_json() for f in self.forwarders},
            "cdr": self.cdr.as_json(),
        }
