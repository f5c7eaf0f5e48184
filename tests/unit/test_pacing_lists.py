"""Issue 18 items 2-3 on the policy: answer rates per list (a new list, a list that jumps,
rescaling each lead by its list) and the abandon budget of small teams."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from predictive.pacing.decide import decide, effective_p, poisson_upper
from predictive.pacing.estimator import EstimatorConfig, OnlineEstimator
from predictive.pacing.lists import ListRatesConfig
from predictive.pacing.policy import PredictivePolicy
from predictive.pacing.types import (
    AttemptEnded,
    AttemptOutcome,
    Estimates,
    LiveAnswerHandled,
    PacingSnapshot,
    QueuedLead,
    ReadyAgent,
    WindowStats,
)
from predictive.sim.draws import talk_params
from predictive.sim.engine import DaySim, simulate_day
from predictive.sim.scenario import load_named

LIVE, NO = AttemptOutcome.LIVE, AttemptOutcome.NO_ANSWER
NEW_P = ListRatesConfig().new_list_p


def _feed(est: OnlineEstimator, list_id: str, rate: float, n: int, t0: float = 0.0,
          seed: int = 0, p: float = 0.3) -> float:
    """n attempts of ``list_id`` one second apart, live with probability ``rate``."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        live = rng.random() < rate
        est.observe(AttemptEnded(f"{list_id}{i}", p, LIVE if live else NO, 10.0, list_id),
                    t0 + i)
    return t0 + n


def _charged(est: Estimates, list_id: str | None, p: float = 0.3) -> float:
    return float(effective_p((QueuedLead(0, p, list_id=list_id),), est)[0])


def test_given_a_new_list_answering_90_percent_when_five_calls_end_then_charged_near_90() -> None:
    est = OnlineEstimator()
    t = _feed(est, "old", 0.3, 600)
    for i in range(5):  # the new list: 5 attempts, all live (the model says 0.3)
        est.observe(AttemptEnded(f"new{i}", 0.3, LIVE, 8.0, "new"), t + i)
    assert _charged(est.estimates(), "new") >= 0.8
    assert _charged(est.estimates(), "old") == pytest.approx(0.3, abs=0.06)


def test_given_a_list_never_seen_when_deciding_then_charged_the_conservative_rate() -> None:
    est = OnlineEstimator()
    _feed(est, "old", 0.3, 600)
    e = est.estimates()
    assert _charged(e, "unseen") == pytest.approx(NEW_P)
    assert _charged(e, "unseen", p=0.95) == pytest.approx(0.95 * e.p_scale, abs=0.01)
    assert _charged(e, None) == pytest.approx(0.3 * e.p_scale)  # no list: the campaign's scale


def test_given_a_new_list_answering_as_predicted_when_observed_then_the_prior_fades() -> None:
    est = OnlineEstimator()
    _feed(est, "fresh", 0.3, 20, seed=3)
    early = _charged(est.estimates(), "fresh")
    assert early > 0.4  # still conservative after 20 calls
    _feed(est, "fresh", 0.3, 400, t0=100.0, seed=4)
    assert _charged(est.estimates(), "fresh") == pytest.approx(0.3, abs=0.05)


def test_given_a_known_list_jumping_from_30_to_90_percent_when_20_calls_end_then_detected() -> None:
    est = OnlineEstimator()
    t = _feed(est, "a", 0.3, 600, seed=5)
    assert _charged(est.estimates(), "a") < 0.36
    _feed(est, "a", 0.9, 20, t0=t, seed=6)  # the long window barely moves (0.33)
    assert _charged(est.estimates(), "a") > 0.45


def test_given_two_lists_when_deciding_then_each_lead_rescaled_by_its_own_list() -> None:
    est = OnlineEstimator()
    t = _feed(est, "a", 0.3, 800, seed=7)
    _feed(est, "b", 0.9, 400, t0=t, seed=8)
    e = est.estimates()
    hopper = tuple(QueuedLead(i, 0.3, list_id="ab"[i % 2]) for i in range(4))
    p = effective_p(hopper, e)
    assert p[0] == pytest.approx(0.3, abs=0.05) and p[2] == pytest.approx(0.3, abs=0.05)
    assert p[1] == pytest.approx(0.9, abs=0.07) and p[3] == pytest.approx(0.9, abs=0.07)
    assert 0.45 < 0.3 * e.p_scale < 0.7  # the one campaign-wide scale would charge both alike


def test_given_per_list_off_when_fed_lists_then_every_lead_on_the_campaign_scale() -> None:
    est = OnlineEstimator(EstimatorConfig(per_list=False))
    _feed(est, "a", 0.9, 200)
    e = est.estimates()
    assert e.list_scales == {} and _charged(e, "a") == pytest.approx(0.3 * e.p_scale)


# -- the abandon budget (small teams) ---------------------------------------------------------

MU, SIGMA = talk_params(120.0, 1.0)


def _estimates(**kw: object) -> Estimates:
    pmf = [0.0] * 32
    for k in range(7, 12):
        pmf[k] = 0.2
    base = dict(ring_pmf=tuple(pmf), talk_mu=MU, talk_sigma=SIGMA, wrap_mean_s=10.0,
                p_scale=1.0, risk_threshold=0.2, n_attempts=5000, n_talks=2000,
                budget_share=1.0, budget_alpha=0.02, budget_reserve=1.0)
    base.update(kw)
    return Estimates(**base)  # type: ignore[arg-type]


def _snapshot(ready: int, live: int, abandons: int, **kw: object) -> PacingSnapshot:
    base = dict(
        now=1000.0, campaign_id="c1", ready=tuple(ReadyAgent(f"r{i}", 990.0) for i in range(ready)),
        busy=(), in_flight=(), hopper=tuple(QueuedLead(i, 0.3) for i in range(40)),
        stats=WindowStats(live, abandons, 3600.0), target_abandon=0.03, estimates=_estimates(),
    )
    base.update(kw)
    return PacingSnapshot(**base)  # type: ignore[arg-type]


def test_given_a_small_team_with_no_abandon_budget_left_when_deciding_then_progressive() -> None:
    spent = _snapshot(3, live=200, abandons=6)  # at the cap already
    d = decide(spent)
    unbraked = decide(replace(spent, estimates=_estimates(budget_share=0.0)))
    assert 3 <= d.count < unbraked.count and "abandon budget" in d.reason
    assert 1 - math.exp(-sum(d.abandons)) < 0.02  # only what is very unlikely to abandon


def test_given_a_small_team_with_budget_left_when_deciding_then_it_overdials() -> None:
    d = decide(_snapshot(3, live=1000, abandons=5))
    assert d.count > 3 and "abandon budget" not in d.reason


def test_given_a_small_team_when_deciding_then_the_launch_fits_the_remaining_budget() -> None:
    snap = _snapshot(3, live=400, abandons=7)  # 5 abandons of budget left, 1 in reserve
    d = decide(snap)
    assert 3 <= d.count
    mean = sum(d.abandons)
    upper = int(poisson_upper(np.array([mean]), 0.02)[0])
    assert 7 + 1 + upper <= 0.03 * (400 + 0.3 * d.count)


def test_given_a_large_team_when_the_budget_is_spent_then_threshold_control_alone() -> None:
    d = decide(_snapshot(20, live=200, abandons=6))
    assert "abandon budget" not in d.reason and d.count > 20


def test_given_calls_in_flight_when_pending_abandons_then_counted_until_their_outcome() -> None:
    policy = PredictivePolicy(EstimatorConfig())
    est = policy.estimator
    for i in range(300):  # warm: past the progressive fallback
        est.observe(AttemptEnded(i, 0.3, LIVE if i % 10 < 3 else NO, 8.0), float(i))
    for i in range(40):
        est.observe(LiveAnswerHandled(False, i), 300.0)
    from predictive.pacing.types import TalkEnded

    for _ in range(20):
        est.observe(TalkEnded(120.0), 300.0)
    d = policy.decide(_snapshot(3, live=1000, abandons=0, estimates=None))
    assert d.count > 3 and policy.pending_abandons == pytest.approx(sum(d.abandons))
    first, *rest = d.lead_ids
    policy.observe(AttemptEnded(first, 0.3, LIVE, 8.0), 1008.0)  # live: pending until handled
    assert policy.pending_abandons == pytest.approx(sum(d.abandons))
    policy.observe(LiveAnswerHandled(False, first), 1008.0)
    for lead in rest:
        policy.observe(AttemptEnded(lead, 0.3, NO, 25.0), 1025.0)
    assert policy.pending_abandons == pytest.approx(0.0, abs=1e-9)


def test_given_poisson_means_when_upper_quantiles_then_exact() -> None:
    def exact(mu: float, alpha: float) -> int:
        k, cdf = 0, math.exp(-mu)
        while cdf < 1 - alpha:
            k += 1
            cdf += math.exp(-mu) * mu**k / math.factorial(k)
        return k

    mus = np.array([0.0, 0.01, 0.05, 0.3, 1.0, 4.0, 12.0])
    assert poisson_upper(mus, 0.02).tolist() == [exact(m, 0.02) for m in mus]


# -- the simulator's list scenarios -----------------------------------------------------------

def test_given_the_list_switch_scenario_when_simulated_then_new_list_leads_and_detected() -> None:
    s = replace(load_named("lists")[0], agents=5, day_s=3600, step_at_s=1800, pauses_per_agent=0)
    assert s.p_profile == "list_switch"
    policy = PredictivePolicy()
    day = DaySim(s, policy, 0, 0)
    day.run()
    start = day.book.new_list_from
    assert start is not None and day.book.list_of(start - 1) == 0 and day.book.list_of(start) == 1
    charged = _charged(policy.estimator.estimates(), 1)  # type: ignore[arg-type]
    assert charged > 0.75  # the model says 0.3; the new list answers at 0.9


def test_given_the_new_list_scenario_when_simulated_then_mixed_and_per_list_scales() -> None:
    s = replace(load_named("lists")[1], agents=5, day_s=3600, step_at_s=1200, pauses_per_agent=0)
    assert s.p_profile == "new_list"
    policy = PredictivePolicy()
    result = simulate_day(s, policy, 1)
    scales = policy.estimator.estimates().list_scales
    assert scales[1] > 2.2 and scales[0] < 1.4
    assert result.abandon_rate < 0.05
