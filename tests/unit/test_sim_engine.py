"""Simulator: common random numbers, the 2-s abandon rule, closed form of progressive."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from predictive.errors import PolicyError, ScenarioError
from predictive.pacing.baselines import Progressive, StaticRatio, progressive_occupancy
from predictive.pacing.types import DialDecision, PacingSnapshot
from predictive.sim.draws import LeadBook, Outcome
from predictive.sim.engine import DaySim, simulate_day
from predictive.sim.metrics import summarize
from predictive.sim.scenario import Scenario, load_named, scenario_from_dict

BASE = Scenario(name="t", agents=10, answer_rate=0.3, talk_mean_s=120, talk_cv=1.0)


class _DialAtStart:
    name = "burst"

    def __init__(self, n: int) -> None:
        self.n = n

    def start_day(self, view: object) -> None:
        return None

    def observe(self, event: object, now: float) -> None:
        return None

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        n = self.n if snapshot.now == 0 else 0
        return DialDecision(n, tuple(q.lead_id for q in snapshot.hopper[:n]), "burst")


def test_given_same_seed_when_different_policies_dial_then_lead_draws_are_identical() -> None:
    a = DaySim(BASE, Progressive(), seed=3, day=0)
    b = DaySim(BASE, StaticRatio(2.0), seed=3, day=0)
    b.book.chunk(5000)  # a different access pattern must not change the draws
    for lead in (0, 17, 4095, 4096, 9000):
        assert a.resolve(lead, 100) == b.resolve(lead, 100)


def test_given_other_seed_when_drawing_then_draws_differ() -> None:
    a, b = LeadBook(BASE, 1, 0), LeadBook(BASE, 2, 0)
    assert [a.chunk(i)[0].ring[i] for i in range(50)] != [b.chunk(i)[0].ring[i] for i in range(50)]


def test_given_scenario_when_drawing_leads_then_ring_times_are_clustered() -> None:
    book = LeadBook(BASE, 0, 0)
    ring = np.array(book.chunk(0)[0].ring)
    assert set(np.unique(ring)) <= set(range(6, 11)) | set(range(18, 23))
    assert 0.45 < np.mean(ring <= 10) < 0.65


def test_given_scenario_when_drawing_outcomes_then_busy_share_is_between_3_and_6_percent() -> None:
    book = LeadBook(BASE, 0, 0)
    outs = [book.outcome(i, 0) for i in range(8000)]
    busy = sum(o is Outcome.BUSY for o in outs) / len(outs)
    human = sum(o is Outcome.HUMAN for o in outs) / len(outs)
    assert 0.03 <= busy <= 0.06
    assert human == pytest.approx(0.3, abs=0.02)


def test_given_step_profile_when_after_the_step_then_answer_rate_halves() -> None:
    s = replace(BASE, p_profile="step", step_at_s=100, step_factor=0.5)
    book = LeadBook(s, 0, 0)
    assert book.p_true(0, 99) == pytest.approx(0.30)
    assert book.p_true(0, 100) == pytest.approx(0.15)


def test_given_heterogeneous_leads_when_drawn_then_mean_p_matches_and_spreads() -> None:
    s = replace(BASE, heterogeneous=True, answer_rate=0.2)
    book = LeadBook(s, 0, 0)
    p = np.array(book.chunk(0)[0].p_base)
    assert p.mean() == pytest.approx(0.2, abs=0.02)
    assert p.std() > 0.08


def test_given_one_agent_when_five_humans_answer_at_once_then_extra_ones_are_abandoned() -> None:
    s = replace(BASE, agents=1, answer_rate=0.9, machine_rate=0.0, busy_rate=0.03,
                amd_false_positive=0.0, pauses_per_agent=0, day_s=600,
                ring_clusters=((6, 6, 1.0),))
    day = simulate_day(s, _DialAtStart(5), seed=0)
    assert day.connects == 1
    assert day.abandons == day.live_answers - 1 >= 1


def test_given_a_policy_dialling_out_of_order_when_simulated_then_policy_error() -> None:
    class Bad(_DialAtStart):
        def decide(self, snapshot: PacingSnapshot) -> DialDecision:
            return DialDecision(1, (snapshot.hopper[3].lead_id,), "skip")

    with pytest.raises(PolicyError):
        simulate_day(replace(BASE, day_s=10), Bad(1), seed=0)


def test_given_progressive_when_simulated_then_occupancy_matches_closed_form() -> None:
    s = replace(BASE, amd_false_negative=0.0, amd_false_positive=0.0, pauses_per_agent=0)
    days = [simulate_day(s, Progressive(), seed) for seed in range(2)]
    m = summarize(days, s.cap)
    ring = sum((lo + hi) / 2 * w for lo, hi, w in s.ring_clusters) + sum(s.amd_delay_s) / 2
    fail_p = 1 - s.answer_rate
    failed = (
        s.busy_rate * sum(s.busy_detect_s) / 2 + s.machine_rate * ring
        + (fail_p - s.busy_rate - s.machine_rate) * s.ring_timeout_s
    ) / fail_p
    expected = progressive_occupancy(s.talk_mean_s, s.wrap_s, s.answer_rate, ring, failed)
    assert m.abandon_mean == 0.0
    assert m.occupancy == pytest.approx(expected, rel=0.02)


def test_given_a_day_when_simulated_then_time_accounting_is_consistent() -> None:
    day = simulate_day(BASE, StaticRatio(1.3), seed=1)
    staffed_max = BASE.agents * BASE.day_s
    paused = BASE.agents * BASE.pauses_per_agent * BASE.pause_s
    assert 0 < day.occupancy <= 1
    assert staffed_max - paused - 1 <= day.staffed_s <= staffed_max
    assert day.connects + day.abandons <= day.live_answers


def test_given_scenario_files_when_loaded_then_they_validate() -> None:
    names = [s.name for s in load_named("target") + load_named("special") + load_named("scale")]
    assert "target_n20_p30_t120" in names and len(names) == len(set(names))


def test_given_unknown_key_when_loading_scenario_then_scenario_error() -> None:
    with pytest.raises(ScenarioError):
        scenario_from_dict({"name": "x", "agents": 1, "answer_rate": 0.3, "talk_mean_s": 60,
                            "talk_cv": 1.0, "colour": "red"})


def test_given_staggered_logins_and_early_logouts_when_simulated_then_less_staffed_time() -> None:
    churn = replace(BASE, login_stagger_s=1800, early_logout_share=0.5)
    full = simulate_day(BASE, Progressive(), seed=4)
    part = simulate_day(churn, Progressive(), seed=4)
    assert part.staffed_s < full.staffed_s - BASE.agents * 0.5 * 1800 * 0.5
    assert 0 < part.occupancy <= 1


def test_given_full_foresight_when_the_oracle_dials_then_near_full_occupancy() -> None:
    from predictive.sim.oracle import Oracle

    s = replace(BASE, day_s=3600, pauses_per_agent=0)
    day = simulate_day(s, Oracle(), seed=5)
    assert day.occupancy > 0.95
    assert day.abandon_rate < 0.01
    assert day.occupancy > simulate_day(s, Progressive(), seed=5).occupancy + 0.2


def test_given_miscalibrated_model_when_reporting_then_only_the_report_is_biased() -> None:
    high = LeadBook(replace(BASE, p_bias=1.3), 0, 0)
    exact = LeadBook(BASE, 0, 0)
    assert high.p_reported(0, 10) == pytest.approx(0.39)
    assert high.p_true(0, 10) == exact.p_true(0, 10) == pytest.approx(0.30)
    assert [high.outcome(i, 10) for i in range(200)] == [exact.outcome(i, 10) for i in range(200)]
    with pytest.raises(ScenarioError, match="p_bias"):
        replace(BASE, p_bias=0.0)


def test_given_real_line_amd_when_drawn_then_1_5_to_5_s_per_lead_mean_kept() -> None:
    # issue 18 #5: AMD() takes 1.5-5 s on real lines; the simulator draws it per lead
    book = LeadBook(BASE, seed=4, day=0)
    delays = np.array([book.amd_delay(i) for i in range(20_000)])
    assert BASE.amd_delay_s == (1.5, 5.0)
    assert set(delays.tolist()) <= {1, 2, 3, 4, 5} and len(set(delays.tolist())) >= 4
    assert delays.mean() == pytest.approx(3.25, abs=0.03)
    again = LeadBook(BASE, seed=4, day=0)
    assert [again.amd_delay(i) for i in range(100)] == delays[:100].tolist()  # common numbers


def test_given_amd_delay_when_a_human_answers_then_hand_off_is_ring_plus_amd() -> None:
    s = replace(BASE, ring_clusters=((6, 6, 1.0),), amd_delay_s=(3.0, 3.0))
    day = DaySim(s, Progressive(), seed=0, day=0)
    for lead in range(200):
        out, human, live, _, at = day.resolve(lead, 10)
        if live and human:
            assert at == 10 + 6 + 3  # what AttemptEnded.duration_s (dial -> hand-off) carries


def test_given_fixed_amd_delay_in_a_file_then_read_as_a_range() -> None:
    s = scenario_from_dict({"name": "x", "agents": 5, "answer_rate": 0.3, "talk_mean_s": 60,
                            "talk_cv": 1.0, "amd_delay_s": 2})
    assert s.amd_delay_s == (2.0, 2.0)
    with pytest.raises(ScenarioError):
        scenario_from_dict({"name": "x", "agents": 5, "answer_rate": 0.3, "talk_mean_s": 60,
                            "talk_cv": 1.0, "amd_delay_s": [4, 2]})
