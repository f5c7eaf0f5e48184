"""OnlineEstimator: what the dialer feeds, what decide() reads."""

from __future__ import annotations

import numpy as np
import pytest

from predictive.pacing.estimator import EstimatorConfig, OnlineEstimator
from predictive.pacing.types import (
    AttemptEnded,
    AttemptOutcome,
    LiveAnswerHandled,
    TalkEnded,
    WrapEnded,
)


def test_given_lognormal_talk_times_when_fed_then_parameters_are_recovered() -> None:
    est = OnlineEstimator(EstimatorConfig(prior_talk_mean_s=30, prior_talk_cv=0.2))
    rng = np.random.default_rng(0)
    for x in rng.lognormal(4.4, 0.8, 4000):
        est.observe(TalkEnded(float(x)))
    e = est.estimates()
    assert e.talk_mu == pytest.approx(4.4, abs=0.05)
    assert e.talk_sigma == pytest.approx(0.8, abs=0.05)


def test_given_live_ring_times_when_fed_then_pmf_concentrates_on_them() -> None:
    est = OnlineEstimator()
    for k in [8] * 300 + [20] * 200:
        est.observe(AttemptEnded("l", 0.3, AttemptOutcome.LIVE, float(k)))
    pmf = est.estimates().ring_pmf
    assert pmf[8] == pytest.approx(0.6, abs=0.02) and pmf[20] == pytest.approx(0.4, abs=0.02)


def test_given_answer_rate_halves_when_fed_then_p_scale_follows() -> None:
    est = OnlineEstimator()
    rng = np.random.default_rng(1)
    for _ in range(3000):
        live = rng.random() < 0.15
        outcome = AttemptOutcome.LIVE if live else AttemptOutcome.NO_ANSWER
        est.observe(AttemptEnded("l", 0.30, outcome, 10.0))
    assert 0.4 < est.estimates().p_scale < 0.65  # shrunk slightly towards 1 by the prior


def test_given_abandons_above_target_when_fed_then_threshold_falls() -> None:
    est = OnlineEstimator(EstimatorConfig(target_abandon=0.02, risk_start=0.05))
    for i in range(500):
        est.observe(LiveAnswerHandled(abandoned=i % 10 == 0))
    assert est.estimates().risk_threshold < 0.05 * 0.2
    for i in range(2000):
        est.observe(LiveAnswerHandled(abandoned=i % 10 == 0))
    assert est.estimates().risk_threshold == pytest.approx(EstimatorConfig().risk_min, rel=0.05)


def test_given_abandons_at_target_when_fed_then_threshold_stays() -> None:
    est = OnlineEstimator(EstimatorConfig(target_abandon=0.02, risk_start=0.05))
    for i in range(5000):
        est.observe(LiveAnswerHandled(abandoned=i % 50 == 49))
    assert est.estimates().risk_threshold == pytest.approx(0.05, rel=0.2)


def test_given_wrap_times_when_fed_then_mean_follows() -> None:
    est = OnlineEstimator(EstimatorConfig(prior_wrap_s=30))
    for _ in range(200):
        est.observe(WrapEnded(12.0))
    assert est.estimates().wrap_mean_s == pytest.approx(12.0, abs=0.5)
