"""Pacing for predictive mode: the port, a fixed-ratio fallback, and the model-based adapter.

``ModelPacing`` turns the dialer's live state into a :class:`predictive.pacing.types.
PacingSnapshot`, asks ``predictive``'s policy how many to dial, and feeds it what the
dialer observes (ring times, live answers and abandons, talk and wrap times), one
policy (one online estimator) per campaign. Until it has seen enough calls the policy
dials progressively and says so in its reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from ari_app.dialer.calls import CampaignCounters
from ari_app.dialer.model import AgentState, CallAttempt, CampaignConfig, Outcome
from predictive.pacing.policy import PredictivePolicy
from predictive.pacing.types import (
    AttemptEnded,
    AttemptOutcome,
    BusyAgent,
    BusyState,
    CallInFlight,
    LiveAnswerHandled,
    PacingSnapshot,
    QueuedLead,
    ReadyAgent,
    TalkEnded,
    WindowStats,
    WrapEnded,
)

PRIOR_P_ANSWER = 0.3  # per-lead answer probability when no model score is known
_OUTCOMES = {
    Outcome.ANSWERED: AttemptOutcome.LIVE, Outcome.ABANDONED: AttemptOutcome.LIVE,
    Outcome.MACHINE: AttemptOutcome.MACHINE, Outcome.BUSY: AttemptOutcome.BUSY,
    Outcome.NO_ANSWER: AttemptOutcome.NO_ANSWER, Outcome.FAILED: AttemptOutcome.FAILED,
    Outcome.INVALID_NUMBER: AttemptOutcome.FAILED,
}


@dataclass(frozen=True)
class PacingView:
    """The live state of one campaign, as the runner sees it."""

    config: CampaignConfig
    now: float
    ready: tuple[tuple[str, float], ...]  # (agent id, ready since)
    busy: tuple[tuple[str, AgentState, float], ...]  # (agent id, on_call|wrap_up, since)
    in_flight: tuple[tuple[str, float, float, str | None], ...]  # (lead, p answer, dialed at, list)
    waiting: int  # answered humans waiting for an agent
    hopper: tuple[tuple[str, float | None, str | None], ...]  # (lead, p answer, list), dial order
    logged_in: int
    counters: CampaignCounters


@dataclass(frozen=True)
class PacingPlan:
    count: int
    reason: str


class Pacing(Protocol):
    def plan(self, view: PacingView) -> PacingPlan:
        """How many more customer calls to launch now."""
        ...

    def observe_live(self, call: CallAttempt, abandoned: bool) -> None: ...

    def observe_end(self, call: CallAttempt) -> None: ...

    def observe_wrap(self, seconds: float) -> None: ...


class RatioPacing:
    """A fixed number of lines per ready agent (``config.dial_ratio``)."""

    def plan(self, view: PacingView) -> PacingPlan:
        target = math.ceil(len(view.ready) * view.config.dial_ratio)
        dialing = len(view.in_flight)
        count = max(0, target - dialing - view.waiting)
        return PacingPlan(count, f"ratio {view.config.dial_ratio:g}: {target} lines wanted")

    def observe_live(self, call: CallAttempt, abandoned: bool) -> None: ...

    def observe_end(self, call: CallAttempt) -> None: ...

    def observe_wrap(self, seconds: float) -> None: ...


class ModelPacing:
    """``predictive``'s policy behind the pacing port (one per campaign)."""

    def __init__(self, policy: PredictivePolicy | None = None) -> None:
        self.policy = policy or PredictivePolicy()
        self.last_reason = ""

    def plan(self, view: PacingView) -> PacingPlan:
        decision = self.policy.decide(self._snapshot(view))
        self.last_reason = decision.reason
        return PacingPlan(decision.count, decision.reason)

    def _snapshot(self, view: PacingView) -> PacingSnapshot:
        counters = view.counters
        return PacingSnapshot(
            now=view.now, campaign_id=view.config.campaign_id,
            ready=tuple(ReadyAgent(a, since) for a, since in view.ready),
            busy=tuple(BusyAgent(a, BusyState.TALK if state is AgentState.ON_CALL
                                 else BusyState.WRAP, since)
                       for a, state, since in view.busy),
            in_flight=tuple(CallInFlight(lead, p, at, lst) for lead, p, at, lst in view.in_flight),
            hopper=tuple(QueuedLead(lead, p if p is not None else PRIOR_P_ANSWER, list_id=lst)
                         for lead, p, lst in view.hopper),
            stats=WindowStats(counters.live_answers, counters.abandons, 30 * 86400.0),
            target_abandon=view.config.abandon_target,
            waiting_calls=view.waiting,
            max_dials=max(0, view.config.max_lines - len(view.in_flight) - view.waiting),
            logged_in=view.logged_in,
        )

    def observe_live(self, call: CallAttempt, abandoned: bool) -> None:
        # the ring time pacing models is dial -> hand-off (after the AMD verdict), not dial ->
        # the channel's answer: AMD's 1.5-5 s are part of the wait for an agent (issue 18)
        now = call.handed_at or call.answered_at or call.originated_at
        self.policy.observe(AttemptEnded(call.lead_id, call.p_answer, AttemptOutcome.LIVE,
                                         max(0.0, now - call.originated_at), call.list_id), now)
        self.policy.observe(LiveAnswerHandled(abandoned, call.lead_id), now)

    def observe_end(self, call: CallAttempt) -> None:
        now = call.ended_at or call.originated_at
        outcome = _OUTCOMES.get(call.outcome or Outcome.FAILED, AttemptOutcome.FAILED)
        if outcome is not AttemptOutcome.LIVE:  # live answers were observed when handled
            self.policy.observe(AttemptEnded(call.lead_id, call.p_answer, outcome,
                                             max(0.0, now - call.originated_at), call.list_id),
                                now)
        elif call.bridged_at is not None:
            self.policy.observe(TalkEnded(call.talk_seconds), now)

    def observe_wrap(self, seconds: float) -> None:
        self.policy.observe(WrapEnded(seconds), 0.0)
