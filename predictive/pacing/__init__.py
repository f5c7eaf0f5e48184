"""Pacing: the pure ``decide(snapshot) -> DialDecision`` and what feeds it.

The dialer fills a :class:`PacingSnapshot` about once a second per campaign, feeds what it
observes (:class:`AttemptEnded`, :class:`LiveAnswerHandled`, :class:`TalkEnded`,
:class:`WrapEnded`) to an :class:`OnlineEstimator`, and passes ``estimator.estimates()`` in
the snapshot. :class:`PredictivePolicy` bundles the two for callers that prefer one object.
"""

from predictive.pacing.decide import decide
from predictive.pacing.estimator import EstimatorConfig, OnlineEstimator
from predictive.pacing.policy import PredictivePolicy
from predictive.pacing.types import (
    AttemptEnded,
    AttemptOutcome,
    BusyAgent,
    BusyState,
    CallInFlight,
    DialDecision,
    Estimates,
    LiveAnswerHandled,
    PacingEvent,
    PacingSnapshot,
    QueuedLead,
    ReadyAgent,
    TalkEnded,
    WindowStats,
    WrapEnded,
)

__all__ = [
    "AttemptEnded", "AttemptOutcome", "BusyAgent", "BusyState", "CallInFlight", "DialDecision",
    "Estimates", "EstimatorConfig", "LiveAnswerHandled", "OnlineEstimator", "PacingEvent",
    "PacingSnapshot", "PredictivePolicy", "QueuedLead", "ReadyAgent", "TalkEnded",
    "WindowStats", "WrapEnded", "decide",
]
