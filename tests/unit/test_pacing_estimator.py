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


def test_given_wrap_ups_lengthen_from_3_to_30_s_when_fed_then_seen_within_three_calls() -> None:
    # issue 18 #6: agents slow down after lunch; the long-run mean would take dozens of calls
    est = OnlineEstimator()
    for _ in range(60):
        est.observe(TalkEnded(20.0))
        est.observe(WrapEnded(3.0))
    assert est.estimates().wrap_mean_s < 4.0
    for _ in range(3):
        est.observe(TalkEnded(20.0))
        est.observe(WrapEnded(30.0))
    assert est.estimates().wrap_mean_s > 10.0  # the long-run mean alone: ~4 s
    slow = OnlineEstimator(EstimatorConfig(recent_half_life=0))  # the long run only
    for wrap in [3.0] * 60 + [30.0] * 3:
        slow.observe(TalkEnded(20.0))
        slow.observe(WrapEnded(wrap))
    assert slow.estimates().wrap_mean_s < 6.0


def test_given_talks_lengthen_when_fed_then_short_window_raises_talk_mean() -> None:
    est = OnlineEstimator()
    rng = np.random.default_rng(1)
    for x in rng.lognormal(np.log(20.0), 0.3, 200):
        est.observe(TalkEnded(float(x)))
    before = est.estimates().talk_mu
    assert before == pytest.approx(np.log(20.0), abs=0.1)
    for _ in range(4):
        est.observe(TalkEnded(120.0))
    assert est.estimates().talk_mu > np.log(40.0)


def test_given_steady_lognormal_talks_then_short_window_rarely_overrides() -> None:
    est = OnlineEstimator()
    rng = np.random.default_rng(2)
    overridden = 0
    for x in rng.lognormal(np.log(120.0) - 0.35, 0.83, 3000):  # talk 120 s, cv 1
        est.observe(TalkEnded(float(x)))
        overridden += est.estimates().talk_mu != est._lm
    assert overridden / 3000 < 0.05
