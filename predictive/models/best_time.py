"""Best time to call: schedule a lead's next attempt at its highest-probability hour
inside its allowed calling window (pure; the probability function is passed in)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from predictive.models.history import CallHistoryRow

# lead-local slot starts -> P(live answer) for each (batched, so a model scores once)
SlotProbabilities = Callable[[Sequence[datetime]], Sequence[float]]


@dataclass(frozen=True, slots=True)
class CallWindow:
    """Allowed local calling hours, e.g. weekdays 9-21, Saturday 10-18 (end exclusive)."""

    hours_by_weekday: dict[int, tuple[int, int]]

    @staticmethod
    def default() -> CallWindow:
        week = {d: (9, 21) for d in range(5)}
        return CallWindow({**week, 5: (10, 18)})

    def allows(self, t: datetime) -> bool:
        span = self.hours_by_weekday.get(t.weekday())
        return span is not None and span[0] <= t.hour < span[1]


@dataclass(frozen=True, slots=True)
class ScheduledAttempt:
    at: datetime  # lead-local time
    p_answer: float
    reason: str


def _slots(start: datetime, horizon: timedelta) -> Iterator[datetime]:
    t = start.replace(minute=0, second=0, microsecond=0)
    if t < start:
        t += timedelta(hours=1)
    while t < start + horizon:
        yield t
        t += timedelta(hours=1)


def best_call_time(
    now_local: datetime, window: CallWindow, p_at: SlotProbabilities,
    horizon: timedelta = timedelta(days=7), not_before: datetime | None = None,
    daily_discount: float = 0.02,
) -> ScheduledAttempt | None:
    """The allowed hourly slot maximising p x (1 - daily_discount)^days_ahead.

    A small daily discount prefers a sooner slot when probabilities are close (ties go to
    the earliest). ``not_before`` enforces a retry gap. None if no slot is allowed.
    """
    start = max(now_local, not_before or now_local)
    slots = [s for s in _slots(start, horizon) if window.allows(s)]
    best: tuple[float, datetime, float] | None = None
    for slot, p in zip(slots, p_at(slots) if slots else [], strict=True):
        days = (slot - now_local).total_seconds() / 86400
        value = p * (1 - daily_discount) ** days
        if best is None or value > best[0] + 1e-12:
            best = (value, slot, p)
    if best is None:
        return None
    _, slot, p = best
    return ScheduledAttempt(slot, p, f"best slot {slot:%a %H:00} with p={p:.3f} in window")


def slot_probabilities(
    score_rows: Callable[[Sequence[CallHistoryRow]], Sequence[float]],
    last: CallHistoryRow, attempts_made: int,
) -> SlotProbabilities:
    """Adapt a row scorer (e.g. the answer model) to :func:`best_call_time`.

    Each slot is scored as a prospective next attempt of the lead whose latest attempt is
    ``last``: local hour and weekday of the slot, hours since ``last``, its outcome.
    """

    def p_at(slots: Sequence[datetime]) -> Sequence[float]:
        rows = [
            replace(
                last, attempted_at=s, local_hour=s.hour, local_weekday=s.weekday(),
                attempt_no=attempts_made, last_outcome=last.outcome,
                hours_since_last=(s - last.attempted_at).total_seconds() / 3600,
                lead_age_days=last.lead_age_days
                + (s - last.attempted_at).total_seconds() / 86400,
            )
            for s in slots
        ]
        return list(score_rows(rows))

    return p_at
