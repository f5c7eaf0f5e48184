"""The dialer's domain: agent sessions, call attempts, campaign settings, outcomes.

Plain dataclasses, enums and pure functions; no asyncio, no I/O. Asterisk's
vocabulary (dial statuses, Q.850 causes) is translated here once, by
:func:`classify_outcome`, into our own :class:`Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ari_app.errors import DialerError
from crm.domain.dialing_settings import DEFAULTS as _D
from crm.domain.dialing_settings import DIALER_FIELDS
from crm.domain.dialing_settings import problems as settings_problems


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
    # RESERVED from pause: a manual dial (the agent dials while the campaign's calls wait)
    AgentState.PAUSED: frozenset({AgentState.READY, AgentState.RESERVED, AgentState.LOGGED_OUT}),
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
    """How one campaign dials. Validated on construction (see :func:`validate_config`).

    Its fields, defaults and rules are the dialer's settings of
    :mod:`crm.domain.dialing_settings` (the one definition; a unit test holds the two equal).
    Enum fields given as their values (JSON, the API) are turned into the enums here.
    """

    campaign_id: str
    name: str = ""
    mode: DialMode = DialMode(_D["mode"])
    channel_template: str = _D["channel_template"]
    caller_id: str = _D["caller_id"]
    ring_timeout_s: int = _D["ring_timeout_s"]
    amd: bool = _D["amd"]
    machine_action: MachineAction = MachineAction(_D["machine_action"])
    machine_message: str = _D["machine_message"]  # a sound name, played after the beep
    safe_harbour: str = _D["safe_harbour"]
    abandon_after_s: float = _D["abandon_after_s"]
    # a key pressed during a prompt: the number goes on the campaign's or the global DNC list
    opt_out_key: str = _D["opt_out_key"]
    opt_out_scope: str = _D["opt_out_scope"]
    wrap_up_limit_s: float = _D["wrap_up_limit_s"]
    record: bool = _D["record"]
    # a personal callback of an agent not logged in goes to the campaign this long after due
    callback_grace_min: int = _D["callback_grace_min"]
    dial_ratio: float = _D["dial_ratio"]  # pacing "ratio": lines per ready agent
    max_lines: int = _D["max_lines"]
    pacing: str = _D["pacing"]  # predictive mode: "model" (answer-probability pacing) or "ratio"
    abandon_target: float = _D["abandon_target"]  # the regulatory cap the pacing keeps under
    abandon_window: str = _D["abandon_window"]  # the regulatory window: "30d" or "24h"
    # too many abandons lately (the abandon alarm): switch predictive to progressive until a
    # manager resumes it
    pause_predictive_on_abandon_alarm: bool = _D["pause_predictive_on_abandon_alarm"]
    # the hard abandon brake over the pacing (predictive/pacing/brake.py); off only to test
    # the safe-harbour path (over-dial on purpose) or where no abandon rule applies
    abandon_brake: bool = _D["abandon_brake"]
    # words the recogniser is steered towards (its initial prompt); empty: the CRM lexicon's
    vocabulary: tuple[str, ...] = _D["vocabulary"]

    def __post_init__(self) -> None:
        if isinstance(self.vocabulary, list):  # JSON gives a list
            object.__setattr__(self, "vocabulary", tuple(self.vocabulary))
        validate_config(self)
        object.__setattr__(self, "mode", DialMode(self.mode))
        object.__setattr__(self, "machine_action", MachineAction(self.machine_action))

    def endpoint(self, number: str) -> str:
        # never str.format: a template is data, not a format spec ({number.__class__})
        return self.channel_template.replace("{number}", number)


def validate_config(config: CampaignConfig) -> None:
    """Every dialer setting against its rules (:func:`crm.domain.dialing_settings.problems`)."""
    found = settings_problems({name: getattr(config, name) for name in DIALER_FIELDS})
    if found:
        raise InvalidCampaignConfig(found)


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
    answered_at: float | None = None  # the customer's channel answered (AMD starts)
    # the AMD verdict handed the live answer on (to an agent or the waiting queue);
    # without AMD, = answered_at. Pacing's ring time is originated_at -> handed_at.
    handed_at: float | None = None
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
    list_id: str | None = None  # the lead's list (pacing rescales its answer rate per list)
    extra: dict[str, str] = field(default_factory=dict)
    held_since: float | None = None  # the customer is on music on hold since then
    hold_seconds: float = 0.0  # holds ended so far
    muted: bool = False  # the agent's audio toward the customer is muted

    def hold_total(self, now: float) -> float:
        """Seconds on hold, the current hold included."""
        current = now - self.held_since if self.held_since is not None else 0.0
        return round(self.hold_seconds + max(0.0, current), 1)

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
