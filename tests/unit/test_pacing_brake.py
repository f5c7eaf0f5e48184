"""The hard abandon brake (issue 18 item 1): a pure cap applied after any pacing model."""

from __future__ import annotations

import random

import pytest

from predictive.pacing.brake import (
    AbandonWindow,
    BrakeInput,
    abandon_alarm,
    brake,
    progressive_floor,
    projected,
)


def _input(proposed: int, free: int, ringing: int = 0, rate: float = 0.3, *,
           windows: tuple[AbandonWindow, ...] = (), cap: float = 0.03, detecting: int = 0,
           human: float = 1.0, waiting: int = 0) -> BrakeInput:
    return BrakeInput(proposed=proposed, free_agents=free, ringing=ringing, answer_rate=rate,
                      windows=windows, cap=cap, detecting=detecting, human_rate=human,
                      waiting=waiting)


def test_given_random_floors_when_braking_then_no_projected_window_exceeds_the_cap() -> None:
    rng = random.Random(18)
    bound = 0
    for _ in range(5000):
        cap = rng.choice((0.01, 0.03, 0.05))
        windows = tuple(
            AbandonWindow(name, answers, min(answers, rng.randint(0, int(answers * cap * 1.3) + 2)))
            for name, answers in (("30d", rng.randint(0, 20_000)), ("1h", rng.randint(0, 400))))
        inp = _input(rng.randint(0, 40), rng.randint(0, 20), rng.randint(0, 40),
                     rng.uniform(0.05, 1.0), windows=windows, cap=cap,
                     detecting=rng.randint(0, 4), human=rng.uniform(0.5, 1.0),
                     waiting=rng.randint(0, 2))
        d = brake(inp)
        floor = min(progressive_floor(inp), inp.proposed)
        assert floor <= d.count <= max(inp.proposed, 0)
        if d.count > floor:  # above progressive: every window stays under the cap
            for w in windows:
                answers, abandons = projected(w, inp, d.count)
                assert abandons <= cap * answers + 1e-9
        if d.count < inp.proposed:  # and one more call would have broken one of them
            bound += 1
            assert d.reason.startswith("abandon brake") and d.window in ("30d", "1h")
            assert d.count == floor or any(
                projected(w, inp, d.count + 1)[1] > cap * projected(w, inp, d.count + 1)[0]
                for w in windows)
        else:
            assert d.reason == ""
    assert bound > 500  # the property was exercised where it binds


def test_given_the_window_at_the_cap_when_braking_then_one_call_per_free_agent() -> None:
    at_cap = (AbandonWindow("30d", 10_000, 300), AbandonWindow("1h", 100, 3))
    d = brake(_input(12, free=4, windows=at_cap))
    assert d.count == 4 and d.window == "30d"
    assert "dial 4 instead of 12" in d.reason
    # over the cap already: the same (never fewer than progressive)
    assert brake(_input(12, free=4, windows=(AbandonWindow("1h", 100, 9),))).count == 4
    # nobody free: nothing launched
    assert brake(_input(12, free=0, windows=at_cap)).count == 0


def test_given_calls_in_flight_when_braking_then_counted_at_the_observed_rate() -> None:
    at_cap = (AbandonWindow("1h", 200, 6),)
    # 10 ringing at the observed 0.3 take 3 of 5 free agents: 2 left (not 5, not 0)
    assert brake(_input(8, free=5, ringing=10, rate=0.3, windows=at_cap)).count == 2
    # the same calls on a list answering at 0.9 take 9: none left
    assert brake(_input(8, free=5, ringing=10, rate=0.9, windows=at_cap)).count == 0
    # calls in AMD count at the observed human share; waiting calls take an agent each
    assert brake(_input(8, free=5, detecting=2, human=0.5, waiting=1, windows=at_cap)).count == 3


def test_given_room_under_the_cap_when_braking_then_spends_only_that_room() -> None:
    # 1 h: 100 answers, 1 abandon, cap 3 %: room for about 2 answers beyond the free agents
    hour = AbandonWindow("1h", 100, 1)
    d = brake(_input(10, free=2, ringing=0, windows=(hour,)))
    answers, abandons = projected(hour, _input(10, free=2, windows=(hour,)), d.count)
    assert d.count == 4 and abandons <= 0.03 * answers
    # the long window has room to spare: it does not bind, the hour does
    d = brake(_input(10, free=2, windows=(AbandonWindow("30d", 50_000, 900), hour)))
    assert d.count == 4 and d.window == "1h"
    # plenty of room everywhere: the model's count stands, no reason
    d = brake(_input(10, free=2, windows=(AbandonWindow("30d", 50_000, 900),)))
    assert (d.count, d.reason, d.window) == (10, "", None)


def test_given_a_fresh_window_when_braking_then_no_more_answers_than_free_agents() -> None:
    # no history at all (a new campaign, the first minutes of the hour)
    d = brake(_input(20, free=3, ringing=5, rate=0.2, windows=(AbandonWindow("1h", 0, 0),)))
    assert d.count == 2  # 5 x 0.2 = 1 expected answer in flight, 2 agents left


def test_given_nothing_proposed_when_braking_then_nothing() -> None:
    assert brake(_input(0, free=5)).count == 0


@pytest.mark.parametrize(("abandons", "answers", "alarm"), [
    (2, 10, False),  # under the minimum count
    (3, 12, True),  # the burst: 3 of 12 in 15 minutes
    (3, 200, False),  # 1.5 % under a 3 % cap
    (7, 200, True),
])
def test_given_recent_abandons_when_checking_the_alarm_then_count_and_cap(
        abandons: int, answers: int, alarm: bool) -> None:
    assert abandon_alarm(AbandonWindow("15min", answers, abandons), 0.03) is alarm


def test_given_no_room_for_one_abandon_when_a_fresh_list_rings_then_every_call_counts() -> None:
    # issue 18's burst: 15 live answers, 0 abandons at a 3 % cap (room 0.45 abandon); 3 calls
    # of a new list ring, dialled before any of it answered. At the history's 0.3 they would
    # take 1 agent of 3 and 2 more calls would go; the list answers ~100 %: 2 abandons.
    history = AbandonWindow("30d", 15, 0, regulatory=True)
    assert brake(_input(8, free=3, ringing=3, rate=0.3, windows=(history,))).count == 0
    assert brake(_input(8, free=3, ringing=1, rate=0.3, windows=(history,))).count == 2
    # room for one abandon or more (>= 34 answers at 3 %): the observed rate again
    roomy = AbandonWindow("30d", 40, 0, regulatory=True)
    assert brake(_input(8, free=3, ringing=3, rate=0.3, windows=(roomy,))).count >= 2
    # an internal guard (the last hour) with no room does not switch the rate
    hour = AbandonWindow("1h", 15, 0)
    assert brake(_input(8, free=3, ringing=3, rate=0.3, windows=(hour,))).count == 2
