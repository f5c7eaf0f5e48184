"""decide(): fallback, floor, anticipation of agents freeing, per-lead probabilities."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from predictive.pacing.decide import decide, marginal_risks, risk_terms
from predictive.pacing.types import (
    BusyAgent,
    BusyState,
    CallInFlight,
    Estimates,
    PacingSnapshot,
    QueuedLead,
    ReadyAgent,
    WindowStats,
)
from predictive.sim.draws import talk_params

MU, SIGMA = talk_params(120.0, 1.0)


def _estimates(**kw: object) -> Estimates:
    pmf = [0.0] * 32
    for k in range(7, 12):
        pmf[k] = 0.11
    for k in range(19, 24):
        pmf[k] = 0.09
    base = dict(ring_pmf=tuple(pmf), talk_mu=MU, talk_sigma=SIGMA, wrap_mean_s=10.0,
                p_scale=1.0, risk_threshold=0.05, n_attempts=5000, n_talks=2000)
    base.update(kw)
    return Estimates(**base)  # type: ignore[arg-type]


def _snapshot(ready: int = 0, busy: tuple[BusyAgent, ...] = (), p: float = 0.3,
              flight: tuple[CallInFlight, ...] = (), **kw: object) -> PacingSnapshot:
    base = dict(
        now=1000.0, campaign_id="c1",
        ready=tuple(ReadyAgent(f"r{i}", 990.0) for i in range(ready)), busy=busy,
        in_flight=flight, hopper=tuple(QueuedLead(i, p) for i in range(60)),
        stats=WindowStats(500, 10, 3600.0), target_abandon=0.03, estimates=_estimates(),
    )
    base.update(kw)
    return PacingSnapshot(**base)  # type: ignore[arg-type]


def _talking(n: int, elapsed: float) -> tuple[BusyAgent, ...]:
    return tuple(BusyAgent(f"b{i}", BusyState.TALK, 1000.0 - elapsed) for i in range(n))


def test_given_no_estimates_when_deciding_then_falls_back_to_progressive_and_says_so() -> None:
    d = decide(_snapshot(ready=3, estimates=None))
    assert d.count == 3
    assert "falling back to progressive: too little data" in d.reason


def test_given_thin_data_when_deciding_then_falls_back_to_progressive() -> None:
    d = decide(_snapshot(ready=2, estimates=_estimates(n_attempts=10)))
    assert d.count == 2 and "too little data" in d.reason


def test_given_data_just_past_the_gates_when_deciding_then_predictive_not_fallback() -> None:
    from predictive.pacing.decide import MIN_ATTEMPTS, MIN_TALKS

    thin = decide(_snapshot(ready=2, estimates=_estimates(n_attempts=500, n_talks=MIN_TALKS - 1)))
    assert "too little data" in thin.reason and f"{MIN_TALKS - 1}/{MIN_TALKS} talks" in thin.reason
    enough = decide(_snapshot(ready=2, p=0.1, estimates=_estimates(n_attempts=MIN_ATTEMPTS,
                                                                   n_talks=MIN_TALKS)))
    assert enough.reason.startswith("predictive: dial") and enough.count > 2


def test_given_ready_agents_and_nothing_in_flight_when_deciding_then_at_least_one_each() -> None:
    d = decide(_snapshot(ready=4))
    assert d.count >= 4
    assert d.lead_ids == tuple(range(d.count))


def test_given_ready_agents_at_low_answer_rate_when_deciding_then_dials_several_per_agent() -> None:
    d = decide(_snapshot(ready=4, p=0.1))
    assert d.count > 12


def test_given_agents_who_just_started_talking_when_deciding_then_dials_nothing() -> None:
    d = decide(_snapshot(busy=_talking(10, elapsed=1.0)))
    assert d.count == 0
    assert "predictive" in d.reason


def test_given_many_agents_in_wrap_up_when_deciding_then_dials_ahead_of_them() -> None:
    wrapping = tuple(BusyAgent(f"w{i}", BusyState.WRAP, 998.0) for i in range(5))
    d = decide(_snapshot(busy=wrapping))
    assert d.count >= 5


def test_given_agents_leaving_for_pause_when_deciding_then_they_are_not_counted() -> None:
    wrapping = tuple(BusyAgent(f"w{i}", BusyState.WRAP, 998.0, leaving=True) for i in range(5))
    assert decide(_snapshot(busy=wrapping)).count == 0


def test_given_calls_in_flight_when_deciding_then_dials_fewer() -> None:
    flight = tuple(CallInFlight(f"f{i}", 0.3, 999.0) for i in range(8))
    assert decide(_snapshot(ready=4, flight=flight)).count < decide(_snapshot(ready=4)).count


def test_given_more_risky_calls_when_ranking_then_marginal_risk_increases() -> None:
    s = _snapshot(ready=3, busy=_talking(10, elapsed=200.0))
    risks = marginal_risks(s, s.estimates, 20)  # type: ignore[arg-type]
    assert all(a <= b + 1e-12 for a, b in zip(risks, risks[1:], strict=False))
    assert risks[0] < 0.01 < risks[-1]


def test_given_a_lower_threshold_when_deciding_then_dials_no_more() -> None:
    s = _snapshot(ready=2, busy=_talking(15, elapsed=150.0))
    tight = replace(s, estimates=_estimates(risk_threshold=0.005))
    assert decide(tight).count <= decide(s).count


def test_given_window_abandon_above_target_when_deciding_then_tightens() -> None:
    s = _snapshot(ready=2, busy=_talking(15, elapsed=150.0))
    hot = replace(s, stats=WindowStats(1000, 40, 3600.0))
    assert decide(hot).count <= decide(s).count


def test_given_line_headroom_when_deciding_then_never_exceeds_it() -> None:
    assert decide(_snapshot(ready=10, p=0.1, max_dials=3)).count == 3


def test_given_a_busy_floor_when_computing_risk_then_close_to_the_exact_distribution() -> None:
    flight = tuple(CallInFlight(f"f{i}", 0.3, 1000.0 - 3 * i) for i in range(6))
    s = _snapshot(ready=2, busy=_talking(16, elapsed=90.0), flight=flight)
    est = replace(s.estimates, lookahead=False)  # type: ignore[arg-type]
    s = replace(s, estimates=est)
    approx = marginal_risks(s, est, 6)
    tb = risk_terms(s, est)
    f, h = tb.free, tb.claims
    off = len(h) + 8
    pmf = np.zeros((len(tb.taus), len(f) + off + 1))
    pmf[:, off] = 1.0
    for a in f:
        pmf[:, 1:] = pmf[:, 1:] * (1 - a)[:, None] + pmf[:, :-1] * a[:, None]
        pmf[:, 0] *= 1 - a
    for a in h:
        pmf[:, :-1] = pmf[:, :-1] * (1 - a)[:, None] + pmf[:, 1:] * a[:, None]
        pmf[:, -1] *= 1 - a
    exact = []
    for q in s.hopper[:6]:
        exact.append(np.cumsum(pmf, axis=1)[:, off - len(s.ready)] @ tb.weights)
        a = q.p_answer * tb.cdf[tb.taus]
        pmf[:, :-1] = pmf[:, :-1] * (1 - a)[:, None] + pmf[:, 1:] * a[:, None]
        pmf[:, -1] *= 1 - a
    np.testing.assert_allclose(approx, exact, atol=0.01)
