"""Relative dates in what the customer said, resolved in the customer's time zone.

``resolve_dates("下周二下午三点", now, "Asia/Shanghai")`` → one :class:`DateMention` at next
week's Tuesday 15:00 local time. A day expression and a time expression next to each other
(either order, up to a few characters/words apart) make one mention; a time alone is today (or
tomorrow once that time has passed); a day alone gets the default hour (10:00); "下周"/"next
week" alone is next Monday at 10:00 with precision ``week``.

Conventions: "next Tuesday"/"下周二" is the Tuesday of next calendar week (weeks start on
Monday); "Tuesday"/"周二"/"on Tuesday" is the coming Tuesday (tomorrow at the earliest);
"this Tuesday"/"这周二" is this week's, or the coming one if it has passed. A bare hour with no
am/pm or part of day follows business hours: 1–6 are afternoon ("at 3" → 15:00).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.analysis._dates_common import (
    DEFAULT_HOUR,
    DayMatch,
    Precision,
    TimeMatch,
    clock_hour,
)
from crm.analysis._dates_en import en_days, en_times
from crm.analysis._dates_zh import zh_days, zh_times
from crm.analysis.errors import AnalysisError

__all__ = ["DateMention", "Precision", "resolve_dates", "earliest_future"]

_M = TypeVar("_M", DayMatch, TimeMatch)
MAX_GAP = 12  # characters between a day and a time expression that still belong together
_CLAUSE_BREAK = re.compile(r"[,.;!?，。；！？]|\bor\b|或者|还是")


@dataclass(frozen=True, slots=True)
class DateMention:
    text: str
    start: int
    end: int
    when: datetime  # aware, in the customer's zone
    precision: Precision


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise AnalysisError(f"unknown time zone {tz!r}") from None


def _pair_times(text: str, days: Sequence[DayMatch], times: Sequence[TimeMatch]) -> dict[int, int]:
    """day index -> time index: each time joins the nearest day in the same clause."""
    pairs: dict[int, tuple[int, int]] = {}
    for ti, t in enumerate(times):
        best: tuple[int, int] | None = None
        for di, day in enumerate(days):
            gap = max(t.start - day.end, day.start - t.end, 0)  # overlapping spans: 0
            between = text[min(day.end, t.end) : max(day.start, t.start)]
            if gap <= MAX_GAP and not _CLAUSE_BREAK.search(between):
                if best is None or gap < best[1]:
                    best = (di, gap)
        if best and (best[0] not in pairs or best[1] < pairs[best[0]][1]):
            pairs[best[0]] = (ti, best[1])
    return {di: ti for di, (ti, _) in pairs.items()}


def _at(day: date, t: TimeMatch | None, zone: tzinfo) -> datetime:
    if t is None:
        return datetime.combine(day, time(DEFAULT_HOUR), tzinfo=zone)
    hour = clock_hour(t.hour, t.pm_hint) if t.precision is Precision.TIME else t.hour
    return datetime.combine(day, time(hour % 24, t.minute), tzinfo=zone)


def _mention(text: str, parts: Iterable[DayMatch | TimeMatch], when: datetime,
             precision: Precision) -> DateMention:
    items = list(parts)
    start, end = min(p.start for p in items), max(p.end for p in items)
    return DateMention(text[start:end], start, end, when, precision)


def _longest_first(found: Iterable[_M]) -> list[_M]:
    kept: list[_M] = []
    for m in sorted(found, key=lambda x: (x.start - x.end, x.start)):
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda x: x.start)


def _matches(text: str, today: date) -> tuple[list[DayMatch], list[TimeMatch]]:
    days = _longest_first([*zh_days(text, today), *en_days(text, today)])
    times = _longest_first([*zh_times(text), *en_times(text)])
    return days, times


def resolve_dates(text: str, now: datetime, tz: str | tzinfo) -> tuple[DateMention, ...]:
    """Every date/time expression in ``text``, resolved relative to ``now`` in zone ``tz``."""
    if now.tzinfo is None:
        raise AnalysisError("resolve_dates needs an aware 'now' (with tzinfo)")
    zone = _zone(tz)
    local_now = now.astimezone(zone)
    days, times = _matches(text, local_now.date())
    pairs = _pair_times(text, days, times)
    used = set(pairs.values())
    mentions = []
    for di, day in enumerate(days):
        t = times[pairs[di]] if di in pairs else None
        precision = t.precision if t else day.precision
        mentions.append(_mention(text, [day, *([t] if t else [])], _at(day.day, t, zone),
                                 precision))
    for i, t in enumerate(times):
        if i in used or t.precision is not Precision.TIME:
            continue
        when = _at(local_now.date(), t, zone)
        if when <= local_now:
            when = _at(date.fromordinal(local_now.date().toordinal() + 1), t, zone)
        mentions.append(_mention(text, [t], when, Precision.TIME))
    return tuple(sorted(mentions, key=lambda m: m.start))


def earliest_future(mentions: Iterable[DateMention], now: datetime) -> DateMention | None:
    future = [m for m in mentions if m.when > now]
    return min(future, key=lambda m: m.when) if future else None
