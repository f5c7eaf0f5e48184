"""Predictive dialing: pacing decisions, their simulator, and the models they use.

* ``predictive.pacing`` — ``decide(snapshot) -> DialDecision`` (pure) and its online estimator.
* ``predictive.sim`` — the discrete-event simulator, baselines' harness and the oracle.
* ``predictive.models`` — answer-probability and conversion models, best time to call.

See ``predictive/README.md``.
"""
