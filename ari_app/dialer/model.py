"""The dialer's domain: agent sessions, call attempts, campaign settings, outcomes.

Plain dataclasses, enums and pure functions; no asyncio, no I/O. Asterisk's
vocabulary (dial statuses, Q.850 causes) is translated here once, by
:func:`classify_outcome`, into our own :class:`Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ari_app.errors import DialerError


class IllegalTransition(DialerError):
    """A state change that the state machine does not allow."""


class DialMode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    CONNECTING = "connecting"  # the controller is calling the agent's phone
    READY = "ready"
    RESERVED = "reserved"  # a call is being placed (or offered, in preview) for this agent
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


_AGENT_MOVES: dict[AgentState, frozenset[AgentState]] = {
    AgentState.LOGGED_OUT: frozenset({AgentState.CONNECTING}),
    AgentState.CONNECTING: frozenset({AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT}),
    AgentState.READY: frozenset(
        {AgentState.RESERVED, AgentState.ON_CALL, AgentState.PAUSED, AgentState.LOGGED_OUT}
    ),
    AgentState.RESERVED: frozenset(
        {AgentState.ON_CALL, AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT}
    ),
    AgentState.ON_CALL: frozenset({AgentState.WRAP_UP, AgentState.LOGGED_OUT}),
    AgentState.WRAP_UP: frozenset({AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT}),
    AgentState.PAUSED: frozenset({AgentState.READY, AgentState.LOGGED_OUT}),
}


class Outcome(StrEnum):
    """What happened to one dial attempt (the CRM's attempt outcomes)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # unreachable, congestion, or the originate itself failed
    MACHINE = "machine"
    ABANDONED = "abandoned"
    INVALID_NUMBER = "invalid_number"


class CallPhase(StrEnum):
    DIALING = "dialing"
    DETECTING = "detecting"  # answered; AMD running in dialplan
    WAITING_AGENT = "waiting_agent"  # a human, no agent yet (predictive)
    CONNECTED = "connected"  # in an agent's bridge
    MESSAGE = "message"  # safe-harbour or machine message playing
    ENDED = "ended"


class MachineAction(StrEnum):
    HANGUP = "hangup"
    MESSAGE = "message"


@dataclass(frozen=True)
class CampaignConfig:
    """How one campaign dials. Validated on construction (see :func:`validate_config`)."""

    campaign_id: str
    name: str = ""
    mode: DialMode = DialMode.PROGRESSIVE
    channel_template: str = "Local/{number}@sim-pstn"
    caller_id: str = ""
    ring_timeout_s: int = 25
    amd: bool = True
    machine_action: MachineAction = MachineAction.HANGUP
    machine_message: str = "dialcrm/machine-message"  # a sound name, played after the beep
    safe_harbour: str = "sound:dialcrm/safe-harbour"
    abandon_after_s: float = 2.0
    wrap_up_limit_s: float = 60.0
    record: bool = True
    dial_ratio: float = 2.0  # pacing "ratio": lines per ready agent
    max_lines: int = 50
    pacing: str = "model"  # predictive mode: "model" (answer-probability pacing) or "ratio"
    abandon_target: float = 0.03  # the regulatory cap the pacing keeps under
    # words the recogniser is steered towards (its initial prompt); empty: the CRM lexicon's
    vocabulary: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocabulary", tuple(self.vocabulary))  # JSON gives a list
        validate_config(self)

    def endpoint(self, number: str) -> str:
        return self.channel_template.format(number=number)


def validate_config(config: CampaignConfig) -> None:
    problems = []
    if "{number}" not in config.channel_template:
        problems.append(("channel_template", "must contain {number}"))
    if not 5 <= config.ring_timeout_s <= 120:
        problems.append(("ring_timeout_s", "must be between 5 and 120 seconds"))
    if not 0.5 <= config.abandon_after_s <= 10:
        problems.append(("abandon_after_s", "must be between 0.5 and 10 seconds"))
    if not 0 <= config.wrap_up_limit_s <= 3600:
        problems.append(("wrap_up_limit_s", "must be between 0 and 3600 seconds"))
    if not 1.0 <= config.dial_ratio <= 10.0:
        problems.append(("dial_ratio", "must be between 1 and 10"))
    if not 1 <= config.max_lines <= 1000:
        problems.append(("max_lines", "must be between 1 and 1000"))
    if config.pacing not in ("model", "ratio"):
        problems.append(("pacing", "must be model or ratio"))
    if not 0.001 <= config.abandon_target <= 0.2:
        problems.append(("abandon_target", "must be between 0.001 and 0.2"))
    if len(config.vocabulary) > 100 or not all(
            isinstance(w, str) and 1 <= len(w.strip()) <= 64 for w in config.vocabulary):
        problems.append(("vocabulary", "at most 100 words or phrases of 1 to 64 characters"))
    if problems:
        raise InvalidCampaignConfig(problems)


class InvalidCampaignConfig(DialerError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems))
        self.problems = problems


@dataclass
class AgentSession:
    """One logged-in agent: the nailed-up phone leg, its holding bridge, and its state."""

    agent_id: str
    extension: str
    campaign_id: str
    leg_id: str
    bridge_id: str
    state: AgentState = AgentState.CONNECTING
    since: float = 0.0  # wall-clock seconds of the last state change
    pause_code: str | None = None
    call_id: str | None = None
    senior: bool = False  # offered "senior"-route leads first (the CRM's agent_skills)

    def move(self, to: AgentState, now: float, *, pause_code: str | None = None) -> AgentState:
        """Change state; returns the previous one. Raises :class:`IllegalTransition`."""
        if to not in _AGENT_MOVES[self.state]:
            raise IllegalTransition(f"agent {self.agent_id}: {self.state} -> {to} not allowed")
        previous, self.state, self.since = self.state, to, now
        self.pause_code = pause_code if to is AgentState.PAUSED else None
        if to in (AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT):
            self.call_id = None
        return previous


@dataclass
class CallAttempt:
    """One customer leg, from originate to its record being complete."""

    call_id: str  # also the ARI channel id
    campaign_id: str
    lead_id: str
    customer_id: str
    number: str
    agent_id: str | None = None  # reserved (preview/progressive) or assigned (predictive)
    phase: CallPhase = CallPhase.DIALING
    originated_at: float = 0.0
    answered_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    dial_status: str | None = None
    amd_status: str | None = None
    abandoned: bool = False
    outcome: Outcome | None = None
    hangup_cause: int | None = None
    recording: str | None = None
    p_answer: float = 0.3  # the lead's modelled answer probability (pacing input)
    route: str | None = None  # the lead's conversion route (which agent it prefers)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def talk_seconds(self) -> float:
        if self.bridged_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, self.ended_at - self.bridged_at)


_FAILED_CAUSES = frozenset({27, 34, 38, 41, 42, 44, 58, 102})
_INVALID_CAUSES = frozenset({1, 3, 22, 28})


def classify_outcome(
    *, answered: bool, dial_status: str | None, cause: int | None,
    amd_status: str | None = None, abandoned: bool = False,
) -> Outcome:
    """Our outcome from what Asterisk said.

    For Local channels the Dial status is the truth (their cause is 0 on busy and
    congestion); for PJSIP channels the cause is right as well. See ASTERISK.md.
    """
    if abandoned:
        return Outcome.ABANDONED
    if amd_status == "MACHINE":
        return Outcome.MACHINE
    if answered:
        return Outcome.ANSWERED
    status = (dial_status or "").upper()
    if status == "BUSY" or cause == 17:
        return Outcome.BUSY
    if status in ("CONGESTION", "CHANUNAVAIL") or cause in _FAILED_CAUSES:
        return Outcome.FAILED
    if cause in _INVALID_CAUSES:
        return Outcome.INVALID_NUMBER
    if status in ("NOANSWER", "RINGING", "CANCEL", "PROGRESS") or cause in (16, 18, 19, 21):
        return Outcome.NO_ANSWER
    return Outcome.FAILED
