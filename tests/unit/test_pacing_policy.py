"""PredictivePolicy end to end in the simulator (short days, to stay fast)."""

from __future__ import annotations

from dataclasses import replace

from predictive.pacing.baselines import Progressive
from predictive.pacing.estimator import EstimatorConfig
from predictive.pacing.policy import PredictivePolicy
from predictive.sim.engine import simulate_day
from predictive.sim.scenario import Scenario

SHORT = Scenario(name="short", agents=10, answer_rate=0.3, talk_mean_s=60, talk_cv=1.0,
                 day_s=2 * 3600, pauses_per_agent=0)


def test_given_the_same_seed_when_predictive_runs_then_busier_agents_than_progressive() -> None:
    ours = simulate_day(SHORT, PredictivePolicy(), 0)  # neutral prior, learned online
    base = simulate_day(SHORT, Progressive(), 0)
    assert ours.occupancy > base.occupancy + 0.08
    assert ours.abandon_rate < 0.045


def test_given_a_mid_shift_drop_in_answers_when_running_then_p_scale_follows() -> None:
    s = replace(SHORT, p_profile="step", step_at_s=3600, step_factor=0.5)
    policy = PredictivePolicy()
    simulate_day(s, policy, 1)
    assert policy.estimator.estimates().p_scale < 0.7


def test_given_a_cold_start_when_deciding_then_the_reason_says_progressive_fallback() -> None:
    policy = PredictivePolicy()
    seen: list[str] = []
    original = policy.decide

    def spy(snapshot):  # type: ignore[no-untyped-def]
        d = original(snapshot)
        seen.append(d.reason)
        return d

    policy.decide = spy  # type: ignore[method-assign]
    simulate_day(replace(SHORT, day_s=900), policy, 2)
    assert seen[0].startswith("falling back to progressive: too little data")
    assert any(r.startswith("predictive: dial") for r in seen)


def test_given_two_scenarios_when_the_bench_builds_predictive_then_same_prior_learned_online(
) -> None:
    """The benchmark never starts the estimator from a scenario's true talk or wrap time."""
    from math import exp

    from predictive.sim.runner import make_policy

    short = replace(SHORT, talk_mean_s=45, talk_cv=0.5, wrap_s=5, day_s=3600)
    long = replace(SHORT, talk_mean_s=400, talk_cv=0.5)
    a, b = make_policy("predictive", short), make_policy("predictive", long)
    assert isinstance(a, PredictivePolicy) and isinstance(b, PredictivePolicy)
    ea, eb = a.estimator.estimates(), b.estimator.estimates()
    assert (ea.talk_mu, ea.talk_sigma, ea.wrap_mean_s) == (eb.talk_mu, eb.talk_sigma,
                                                           eb.wrap_mean_s)
    prior_mean = exp(ea.talk_mu + ea.talk_sigma**2 / 2)
    assert abs(prior_mean - EstimatorConfig().prior_talk_mean_s) < 1e-6
    simulate_day(short, a, 0)
    learned = a.estimator.estimates()
    assert abs(exp(learned.talk_mu + learned.talk_sigma**2 / 2) - 45) < 45 * 0.15
    assert abs(learned.wrap_mean_s - 5) < 0.5
