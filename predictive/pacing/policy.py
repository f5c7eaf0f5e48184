"""``PredictivePolicy``: ``decide`` plus its online estimator, in the simulator's shape.

The dialer can use this class as is (call ``observe`` with what it sees, ``decide`` once a
second), or hold an :class:`OnlineEstimator` itself and call the pure ``decide``.
"""

from __future__ import annotations

from dataclasses import replace

from predictive.pacing.decide import decide
from predictive.pacing.estimator import EstimatorConfig, OnlineEstimator
from predictive.pacing.types import DialDecision, PacingEvent, PacingSnapshot


class PredictivePolicy:
    name = "predictive"

    def __init__(self, config: EstimatorConfig | None = None, name: str = "predictive") -> None:
        self.estimator = OnlineEstimator(config)
        self.name = name

    def start_day(self, view: object) -> None:
        return None

    def observe(self, event: PacingEvent, now: float) -> None:
        self.estimator.observe(event, now)

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        return decide(replace(snapshot, estimates=self.estimator.estimates()))
