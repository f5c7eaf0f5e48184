"""Shared pieces of relative-date resolution (internal)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta


class Precision(enum.StrEnum):
    MONTH = "month"
    WEEK = "week"
    DAY = "day"
    PART_OF_DAY = "part_of_day"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class DayMatch:
    start: int
    end: int
    day: date
    precision: Precision


@dataclass(frozen=True, slots=True)
class TimeMatch:
    start: int
    end: int
    hour: int
    minute: int
    precision: Precision  # TIME (an explicit clock time) or PART_OF_DAY
    pm_hint: bool | None = None  # None: unknown, resolve by business hours


PART_OF_DAY_HOURS = {"early": 9, "morning": 10, "noon": 12, "afternoon": 15, "evening": 19}
DEFAULT_HOUR = 10


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekday_in_week(today: date, week_offset: int, weekday: int) -> date:
    return monday_of(today) + timedelta(weeks=week_offset, days=weekday)


def next_weekday(today: date, weekday: int) -> date:
    """The coming ``weekday`` strictly after today (1–7 days ahead)."""
    ahead = (weekday - today.weekday() - 1) % 7 + 1
    return today + timedelta(days=ahead)


def first_of_next_month(today: date, months: int = 1) -> date:
    month0 = today.month - 1 + months
    return date(today.year + month0 // 12, month0 % 12 + 1, 1)


def clock_hour(hour: int, pm_hint: bool | None) -> int:
    """24 h hour from a spoken hour: explicit am/pm wins, else business hours (1–6 → pm)."""
    if pm_hint is True and hour < 12:
        return hour + 12
    if pm_hint is False:
        return 0 if hour == 12 else hour
    if pm_hint is None and 1 <= hour <= 6:
        return hour + 12
    return hour
