"""``PredictivePolicy``: ``decide`` plus its online estimator, in the simulator's shape.

The dialer can use this class as is (call ``observe`` with what it sees, ``decide`` once a
second), or hold an :class:`OnlineEstimator` itself and call the pure ``decide``. The policy also
keeps the expected abandons of the calls it launched until their outcome is seen (the
``pending_abandons`` the abandon budget counts).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace

from predictive.pacing.decide import decide
from predictive.pacing.estimator import EstimatorConfig, OnlineEstimator
from predictive.pacing.types import (
    AttemptEnded,
    AttemptOutcome,
    DialDecision,
    LiveAnswerHandled,
    PacingEvent,
    PacingSnapshot,
)

PENDING_TTL_S = 120.0  # a launched call whose outcome was never seen stops counting after this


class PredictivePolicy:
    name = "predictive"

    def __init__(self, config: EstimatorConfig | None = None, name: str = "predictive") -> None:
        self.estimator = OnlineEstimator(config)
        self.name = name
        self._pending: dict[Hashable, tuple[float, float]] = {}  # lead -> (abandons, dialled)
        self._pending_sum = 0.0
        self._pruned_at = 0.0

    def start_day(self, view: object) -> None:
        return None

    def observe(self, event: PacingEvent, now: float) -> None:
        # a call's abandons are settled by its outcome, a live answer's once it is handled
        if isinstance(event, AttemptEnded) and event.outcome is not AttemptOutcome.LIVE:
            self._settle(event.lead_id)
        elif isinstance(event, LiveAnswerHandled):
            self._settle(event.lead_id)
        self.estimator.observe(event, now)

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        if snapshot.now - self._pruned_at >= 30.0:
            self._prune(snapshot.now)
        d = decide(replace(snapshot, estimates=self.estimator.estimates(),
                           pending_abandons=max(0.0, self._pending_sum)))
        for lead, a in zip(d.lead_ids, d.abandons, strict=False):
            self._settle(lead)
            self._pending[lead] = (a, snapshot.now)
            self._pending_sum += a
        return d

    @property
    def pending_abandons(self) -> float:
        return max(0.0, self._pending_sum)

    def _settle(self, lead: Hashable) -> None:
        hit = self._pending.pop(lead, None)
        if hit is not None:
            self._pending_sum -= hit[0]

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        for lead in [k for k, (_, at) in self._pending.items() if now - at > PENDING_TTL_S]:
            self._settle(lead)
        if not self._pending:
            self._pending_sum = 0.0  # no drift from float sums
