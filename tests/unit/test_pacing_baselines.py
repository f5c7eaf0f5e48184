"""Baseline policies: progressive, static ratio, VICIdial adaptive, PI."""

from __future__ import annotations

import pytest

from predictive.pacing.baselines import (
    PIConfig,
    PIController,
    Progressive,
    StaticRatio,
    VicidialAdaptive,
    VicidialConfig,
    progressive_occupancy,
)
from predictive.pacing.types import (
    BusyAgent,
    BusyState,
    CallInFlight,
    LiveAnswerHandled,
    PacingSnapshot,
    QueuedLead,
    ReadyAgent,
    WindowStats,
)


def _snap(now: float, ready: int, talking: int, flight: int = 0, waiting: int = 0,
          logged: int | None = None) -> PacingSnapshot:
    return PacingSnapshot(
        now=now, campaign_id="c", ready=tuple(ReadyAgent(i, 0.0) for i in range(ready)),
        busy=tuple(BusyAgent(100 + i, BusyState.TALK, 0.0) for i in range(talking)),
        in_flight=tuple(CallInFlight(1000 + i, 0.3, now) for i in range(flight)),
        hopper=tuple(QueuedLead(i, 0.3) for i in range(100)), stats=WindowStats(0, 0, 0.0),
        target_abandon=0.03, waiting_calls=waiting, logged_in=logged,
    )


def test_given_free_agents_and_calls_ringing_when_progressive_then_one_per_free_agent() -> None:
    d = Progressive().decide(_snap(0, ready=5, talking=3, flight=2))
    assert d.count == 3 and d.lead_ids == (0, 1, 2)


def test_given_level_two_when_static_ratio_then_two_calls_per_active_agent() -> None:
    d = StaticRatio(2.0).decide(_snap(0, ready=2, talking=8, flight=4))
    assert d.count == 2 * 10 - (4 + 8)


def test_given_closed_form_when_computing_progressive_occupancy_then_matches_formula() -> None:
    assert progressive_occupancy(120, 10, 0.3, 14, 20) == pytest.approx(130 / (144 + 7 / 3 * 20))


def test_given_idle_agents_when_vicidial_adapts_then_level_rises_by_m_times_k() -> None:
    v = VicidialAdaptive()
    for t in range(16):
        v.decide(_snap(float(t), ready=4, talking=16, logged=20))
    assert v.level == pytest.approx(1.0 * (1 + 4 / 20))


def test_given_intensity_when_vicidial_adapts_down_then_k_is_abs_intensity_minus_one() -> None:
    v = VicidialAdaptive(VicidialConfig(intensity=20, start_level=2.0))
    for t in range(16):
        v.decide(_snap(float(t), ready=0, talking=20, waiting=2, logged=20))
    assert v.level == pytest.approx(2.0 * (1 - 0.1 * 0.8))


def test_given_many_drops_today_when_hard_limit_then_level_resets_to_one() -> None:
    v = VicidialAdaptive(VicidialConfig(hard_limit=True, start_level=2.5))
    for i in range(60):
        v.observe(LiveAnswerHandled(abandoned=i % 10 == 0), 0.0)
    for t in range(16):
        v.decide(_snap(float(t), ready=5, talking=15, logged=20))
    assert v.level == 1.0


def test_given_many_drops_today_when_adapt_average_then_level_halves() -> None:
    v = VicidialAdaptive(VicidialConfig(start_level=2.5))
    for i in range(60):
        v.observe(LiveAnswerHandled(abandoned=i % 10 == 0), 0.0)
    for t in range(16):
        v.decide(_snap(float(t), ready=0, talking=20, logged=20))
    assert v.level == pytest.approx(1.25)


def test_given_over_half_dropped_in_last_minute_when_vicidial_then_level_halves() -> None:
    v = VicidialAdaptive(VicidialConfig(start_level=3.0, drop_limit=1.0))
    for i in range(30):
        v.observe(LiveAnswerHandled(abandoned=i % 3 != 0), 5.0)
    for t in range(16):
        v.decide(_snap(float(t), ready=0, talking=20, logged=20))
    assert v.level == pytest.approx(1.5)


def test_given_no_abandons_when_pi_runs_then_level_rises() -> None:
    pi = PIController(PIConfig(base_level=1.2))
    for i in range(200):
        pi.observe(LiveAnswerHandled(False), float(i))
    for t in range(0, 120):
        pi.decide(_snap(float(t), ready=2, talking=18))
    assert pi.level > 1.2
