"""Typed shapes exchanged between the dialer and the pacing policy.

The dialer fills a :class:`PacingSnapshot` about once a second per campaign and calls
``decide(snapshot)``; it feeds what it observes to an online estimator as
:data:`PacingEvent` values. All times are seconds on one monotonic clock.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from enum import Enum

LeadId = Hashable
AgentId = Hashable
ListId = Hashable  # the list (import, file, segment) a lead comes from; None: not known


class BusyState(Enum):
    """What a busy agent is doing."""

    TALK = "talk"
    WRAP = "wrap"


class AttemptOutcome(Enum):
    """How a dial attempt ended, as the dialer sees it (after AMD)."""

    LIVE = "live"  # passed to an agent (or abandoned): counts as a live answer
    MACHINE = "machine"  # answering machine detected and hung up
    BUSY = "busy"
    NO_ANSWER = "no_answer"  # ring timeout
    FAILED = "failed"  # congestion, invalid number, ...


@dataclass(frozen=True, slots=True)
class ReadyAgent:
    agent_id: AgentId
    ready_since: float


@dataclass(frozen=True, slots=True)
class BusyAgent:
    agent_id: AgentId
    state: BusyState
    since: float  # when the agent entered ``state``
    leaving: bool = False  # a pause or logout is requested for when this call ends


@dataclass(frozen=True, slots=True)
class CallInFlight:
    lead_id: LeadId
    p_answer: float  # model probability of a live answer for this attempt
    dialed_at: float
    list_id: ListId | None = None


@dataclass(frozen=True, slots=True)
class QueuedLead:
    lead_id: LeadId
    p_answer: float
    score: float | None = None  # optional model score (e.g. conversion), unused by pacing
    list_id: ListId | None = None


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Campaign counters over the regulatory window (e.g. 30 days, or today)."""

    live_answers: int
    abandons: int
    window_s: float

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.live_answers if self.live_answers else 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Estimates:
    """Distribution estimates the policy uses; produced by ``OnlineEstimator.estimates()``."""

    ring_pmf: tuple[float, ...]  # P(live answer reaches the dialer at second k | live), k=0..
    talk_mu: float  # lognormal parameters of talk time
    talk_sigma: float
    wrap_mean_s: float
    p_scale: float  # observed/predicted live-answer ratio (model calibration drift)
    risk_threshold: float  # max P(abandon | answered) accepted for one more dial
    n_attempts: int
    n_talks: int
    abandon_window_s: float = 2.0
    future_weight: float = 0.0  # weight of not-yet-dialled calls that may overtake
    lookahead: bool = True  # count the abandons a call causes to later answers too
    # per-list scales on the model's p (predictive/pacing/lists.py); a list not in it is charged
    # max(p x p_scale, new_list_p); leads with no list use p_scale
    list_scales: Mapping[ListId, float] = field(default_factory=dict)
    new_list_p: float = 0.0
    # the abandon budget (decide.abandon_budget): launch only what keeps the window's abandons,
    # with those the calls in flight and this launch may still cause (their Poisson upper
    # 1 - budget_alpha quantile), under budget_share x the cap; 0 turns it off
    budget_share: float = 0.0
    budget_alpha: float = 0.02
    budget_reserve: float = 1.0  # abandons kept in hand (one that slips past the quantile)
    budget_max_agents: int = 9  # only teams this small (larger ones: the day's rate varies little)


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """Everything ``decide`` may look at, for one campaign at one instant."""

    now: float
    campaign_id: str
    ready: tuple[ReadyAgent, ...]
    busy: tuple[BusyAgent, ...]
    in_flight: tuple[CallInFlight, ...]
    hopper: tuple[QueuedLead, ...]
    stats: WindowStats
    target_abandon: float
    estimates: Estimates | None = None
    waiting_calls: int = 0  # live answers waiting for an agent right now
    max_dials: int = 1_000  # trunk/line headroom for this campaign right now
    logged_in: int | None = None  # agents logged in (incl. paused); default ready+busy
    pending_abandons: float = 0.0  # expected abandons of the calls in flight (at their launch)

    @property
    def agents_logged_in(self) -> int:
        return self.logged_in if self.logged_in is not None else len(self.ready) + len(self.busy)


@dataclass(frozen=True, slots=True)
class DialDecision:
    """How many leads to dial now, which ones (hopper order), and why."""

    count: int
    lead_ids: tuple[LeadId, ...]
    reason: str
    risks: tuple[float, ...] = ()  # predictive: each dialled call's estimated abandon risk
    abandons: tuple[float, ...] = ()  # predictive: each dialled call's P(live and abandoned)


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    lead_id: LeadId
    p_answer: float
    outcome: AttemptOutcome
    duration_s: float  # dial to outcome (for LIVE: to the moment it is handed to an agent)
    list_id: ListId | None = None


@dataclass(frozen=True, slots=True)
class LiveAnswerHandled:
    """A live answer either reached an agent within the window or was abandoned."""

    abandoned: bool
    lead_id: LeadId | None = None
    machine: bool = False  # the agent dispositioned it as an answering machine (AMD miss)


@dataclass(frozen=True, slots=True)
class TalkEnded:
    talk_s: float
    machine: bool = False  # agent dispositioned it as an answering machine (AMD miss)


@dataclass(frozen=True, slots=True)
class WrapEnded:
    wrap_s: float


PacingEvent = AttemptEnded | LiveAnswerHandled | TalkEnded | WrapEnded
