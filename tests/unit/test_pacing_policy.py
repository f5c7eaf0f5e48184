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
    ours = simulate_day(SHORT, PredictivePolicy(EstimatorConfig(prior_talk_mean_s=60)), 0)
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
