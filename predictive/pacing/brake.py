"""The hard abandon brake: a cap on a launch that no pacing model can override (issue 18).

The dialer applies :func:`brake` after the pacing (``decide`` or a fixed ratio) has said how many
calls to launch, in predictive mode, before every launch. It needs no model: it projects each
abandon window (the campaign's regulatory window, e.g. 30 days or 24 hours, and the last hour)
as if

* the calls already in flight answer at the *observed recent* rate (ringing calls: live answers
  per dial; calls answered with the AMD verdict pending: live answers per answer), whatever the
  model thinks of them; but every one of them answers while the regulatory window has no room
  left for a single abandon (cap x live answers - abandons < 1): a recent rate says nothing of
  a fresh list that answers ~100 % (issue 18's burst: its first calls were dialled before any
  of them answered), and there one abandon is already over the cap;
* every call of this launch answers (the launch *could* push the window over: the worst case);
* every live answer beyond the agents free now is abandoned (nobody is counted on to free up).

It launches the most calls, up to the pacing's count, that keep every projected window at or
under the cap; never fewer than one per free agent once the calls in flight have taken theirs
(progressive, counted exactly: a call in flight takes an agent only with the probability that
it answers). With the window at the cap that is exactly what it launches. VICIdial's
ADAPT_HARD_LIMIT drops to one line per agent once the day's drop rate is over the limit, and its
drop lock-out stops dialling; both count the lines, not the calls that will answer. This brake
binds *before* the window goes over, by the abandons the calls in flight can still cause.

:func:`abandon_alarm` says when the abandons of the last minutes are enough to alarm (the
dialer raises it, asks a manager to look, and may switch the campaign to progressive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALARM_WINDOW_S = 15 * 60.0
ALARM_MIN_ABANDONS = 3


@dataclass(frozen=True, slots=True)
class AbandonWindow:
    """Live answers and abandons of one campaign over one window (from its records + since)."""

    name: str  # "30d", "24h", "1h", "15min"
    live_answers: int  # humans answered (connected to an agent or abandoned)
    abandons: int
    regulatory: bool = False  # the campaign's regulatory window (not an internal guard)

    @property
    def rate(self) -> float:
        return self.abandons / self.live_answers if self.live_answers else 0.0


@dataclass(frozen=True, slots=True)
class BrakeInput:
    proposed: int  # what the pacing wants to launch now
    free_agents: int  # agents ready now, no call reserved for them
    ringing: int  # calls dialled, not answered yet
    answer_rate: float  # observed recent P(live answer | dial)
    windows: tuple[AbandonWindow, ...]
    cap: float  # the campaign's abandon target (0.03 = 3 %)
    detecting: int = 0  # calls answered, the AMD verdict pending
    human_rate: float = 1.0  # observed recent P(live | answered)
    waiting: int = 0  # live answers waiting for an agent right now


@dataclass(frozen=True, slots=True)
class BrakeDecision:
    count: int  # calls to launch (<= proposed)
    reason: str  # "" when the brake did not bind
    window: str | None = None  # the window that bound


def no_room(inp: BrakeInput) -> bool:
    """The regulatory window cannot take one more abandon: the calls in flight all count."""
    return any(w.regulatory and inp.cap * w.live_answers - w.abandons < 1.0 for w in inp.windows)


def expected_answers(inp: BrakeInput) -> float:
    """Live answers the calls in flight will still bring, at the observed rates (every call,
    when the regulatory window has no room for one abandon)."""
    if no_room(inp):
        return float(inp.ringing + inp.detecting)
    return (inp.ringing * min(max(inp.answer_rate, 0.0), 1.0)
            + inp.detecting * min(max(inp.human_rate, 0.0), 1.0))


def progressive_floor(inp: BrakeInput) -> int:
    """One call per free agent, once the calls in flight and waiting have taken theirs."""
    return max(0, math.floor(inp.free_agents - inp.waiting - expected_answers(inp) + 1e-9))


def projected(window: AbandonWindow, inp: BrakeInput, launch: int) -> tuple[float, float]:
    """(live answers, abandons) of ``window`` if ``launch`` calls go now (module docstring)."""
    flight = expected_answers(inp)
    excess = max(0.0, flight + inp.waiting + launch - inp.free_agents)
    return window.live_answers + flight + launch, window.abandons + excess


def within_cap(window: AbandonWindow, inp: BrakeInput, launch: int) -> bool:
    answers, abandons = projected(window, inp, launch)
    return abandons <= inp.cap * answers + 1e-9


def brake(inp: BrakeInput) -> BrakeDecision:
    """At most ``inp.proposed`` calls, as many as keep every projected window under the cap."""
    if inp.proposed <= 0:
        return BrakeDecision(max(0, inp.proposed), "")
    floor = min(progressive_floor(inp), inp.proposed)
    count, bound = inp.proposed, None
    for window in inp.windows:
        while count > floor and not within_cap(window, inp, count):
            count, bound = count - 1, window
    if bound is None:
        return BrakeDecision(inp.proposed, "")
    reason = (
        f"abandon brake ({bound.name} window {bound.abandons}/{bound.live_answers} = "
        f"{bound.rate:.2%}, cap {inp.cap:.2%}): dial {count} instead of {inp.proposed} "
        f"({inp.free_agents} free agents; {inp.ringing} ringing at "
        + ("answer rate 1 (no room for one abandon)" if no_room(inp)
           else f"observed answer rate {inp.answer_rate:.2f}")
        + f", {inp.detecting} in AMD, {inp.waiting} waiting)"
    )
    return BrakeDecision(count, reason, bound.name)


def abandon_alarm(recent: AbandonWindow, cap: float,
                  min_abandons: int = ALARM_MIN_ABANDONS) -> bool:
    """Too many abandons lately: at least ``min_abandons`` and above the cap over the window."""
    return recent.abandons >= min_abandons and recent.abandons > cap * recent.live_answers
