"""Best time to call inside the lead's allowed window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from predictive.models.answer_model import train_answer_model
from predictive.models.best_time import CallWindow, best_call_time, slot_probabilities
from predictive.sim.history import generate_history, hour_effect

MONDAY_8 = datetime(2026, 3, 2, 8, 30)


def _by_hour(peak: int):  # noqa: ANN202
    def p_at(slots: Sequence[datetime]) -> list[float]:
        return [0.5 - 0.03 * abs(s.hour - peak) for s in slots]

    return p_at


def test_given_an_evening_peak_when_scheduling_then_picks_it_inside_the_window() -> None:
    s = best_call_time(MONDAY_8, CallWindow.default(), _by_hour(19))
    assert s is not None and s.at == datetime(2026, 3, 2, 19, 0)
    assert "p=" in s.reason


def test_given_a_peak_outside_the_window_when_scheduling_then_best_allowed_hour() -> None:
    window = CallWindow({d: (9, 17) for d in range(5)})
    s = best_call_time(MONDAY_8, window, _by_hour(20))
    assert s is not None and s.at == datetime(2026, 3, 2, 16, 0)


def test_given_a_retry_gap_when_scheduling_then_not_before_it() -> None:
    gap = MONDAY_8 + timedelta(hours=30)
    s = best_call_time(MONDAY_8, CallWindow.default(), _by_hour(10), not_before=gap)
    assert s is not None and s.at >= gap and s.at.hour == 10


def test_given_no_allowed_slot_when_scheduling_then_none() -> None:
    assert best_call_time(MONDAY_8, CallWindow({}), _by_hour(10)) is None


def test_given_equal_probabilities_when_scheduling_then_the_earliest_slot() -> None:
    s = best_call_time(MONDAY_8, CallWindow.default(), lambda slots: [0.3] * len(slots))
    assert s is not None and s.at == datetime(2026, 3, 2, 9, 0)


def test_given_the_answer_model_when_scheduling_a_mobile_lead_then_evening() -> None:
    rows, _ = generate_history(6000, seed=4)
    model = train_answer_model(rows)
    last = next(r for r in rows if r.number_type == "mobile" and r.outcome == "no_answer")
    last = replace(last, attempted_at=MONDAY_8 - timedelta(days=1))
    p_at = slot_probabilities(lambda rs: model.predict_rows(rs, {}), last, last.attempt_no + 1)
    s = best_call_time(MONDAY_8, CallWindow.default(), p_at, horizon=timedelta(days=1))
    truth = [hour_effect("mobile", h, 0) for h in range(9, 21)]
    assert s is not None
    assert 16 <= s.at.hour <= 20
    assert truth[s.at.hour - 9] > float(np.median(truth))
