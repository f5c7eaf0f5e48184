"""Chinese relative dates and times (internal): 明天, 下周二, 下周, 3天后, 下午三点半, 15:30."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from crm.analysis._dates_common import (
    PART_OF_DAY_HOURS,
    DayMatch,
    Precision,
    TimeMatch,
    first_of_next_month,
    next_weekday,
    weekday_in_week,
)

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"[0-9]+|[零〇一二两三四五六七八九十]+"
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEK = r"(?:周|星期|礼拜)"
_PARTS = {"早上": "early", "早晨": "early", "上午": "morning", "中午": "noon",
          "下午": "afternoon", "傍晚": "evening", "晚上": "evening", "今晚": "evening"}
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "明早": 1,
                  "后天": 2, "大后天": 3}


def zh_number(text: str) -> int | None:
    """Parse 0–99 in Arabic or Chinese numerals (三, 十二, 二十, 三十一, 两)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        t = _DIGITS.get(tens, -1) if tens else 1
        u = _DIGITS.get(units, -1) if units else 0
        return None if t < 0 or u < 0 else t * 10 + u
    return _DIGITS[text] if len(text) == 1 and text in _DIGITS else None


_DAY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("week_day", rf"(下下|下个?|这个?|本){_WEEK}([一二三四五六日天末])"),
    ("week", rf"(下下|下个?){_WEEK}"),
    ("bare_weekday", rf"{_WEEK}([一二三四五六日天末])"),
    ("in_days", rf"({_NUM})(?:天|日)(?:以后|之后|后)"),
    ("few_days", r"过(两|几|一两|三)天"),
    ("month_day", rf"({_NUM})月({_NUM})(?:号|日)"),
    ("next_month", r"下个?月"),
    ("relative", "|".join(sorted(_RELATIVE_DAYS, key=len, reverse=True))),
)
_DAY_RE = re.compile("|".join(f"(?P<{name}>{pat})" for name, pat in _DAY_PATTERNS))


def _week_offset(prefix: str) -> int:
    return 2 if prefix.startswith("下下") else 1 if prefix.startswith("下") else 0


def _resolve_day(kind: str, text: str, today: date) -> tuple[date, Precision] | None:
    if kind == "relative":
        return today + timedelta(days=_RELATIVE_DAYS[text]), Precision.DAY
    if kind == "week_day":
        m = re.fullmatch(rf"(下下|下个?|这个?|本){_WEEK}(.)", text)
        assert m is not None
        day = weekday_in_week(today, _week_offset(m.group(1)), _WEEKDAY[m.group(2)])
        return (day if day > today else day + timedelta(weeks=1)), Precision.DAY
    if kind == "week":
        return weekday_in_week(today, _week_offset(text), 0), Precision.WEEK
    if kind == "bare_weekday":
        return next_weekday(today, _WEEKDAY[text[-1]]), Precision.DAY
    if kind == "in_days":
        n = zh_number(re.match(_NUM, text).group(0))  # type: ignore[union-attr]
        return (today + timedelta(days=n), Precision.DAY) if n is not None else None
    if kind == "few_days":
        return today + timedelta(days=2 if "两" in text else 3), Precision.DAY
    if kind == "next_month":
        return first_of_next_month(today), Precision.MONTH
    if kind == "month_day":
        return _month_day(text, today)
    return None


def _month_day(text: str, today: date) -> tuple[date, Precision] | None:
    m = re.fullmatch(rf"({_NUM})月({_NUM})(?:号|日)", text)
    month, day = (zh_number(m.group(1)), zh_number(m.group(2))) if m else (None, None)
    if month is None or day is None:
        return None
    try:
        when = date(today.year, month, day)
        return (when if when >= today else date(today.year + 1, month, day)), Precision.DAY
    except ValueError:
        return None


def zh_days(text: str, today: date) -> Iterator[DayMatch]:
    for m in _DAY_RE.finditer(text):
        kind = m.lastgroup or ""
        resolved = _resolve_day(kind, m.group(0), today)
        if resolved:
            yield DayMatch(m.start(), m.end(), resolved[0], resolved[1])


_TIME_RE = re.compile(
    r"(?P<part>早上|早晨|上午|中午|下午|傍晚|晚上|今晚)?"
    rf"(?:(?P<hour>{_NUM})(?:点|時|时)(?:(?P<half>半)|(?P<quarter>一刻)|(?P<min>{_NUM})分?)?"
    r"|(?P<hh>[0-2]?\d)[:：](?P<mm>[0-5]\d))?"
)


def zh_times(text: str) -> Iterator[TimeMatch]:
    for m in _TIME_RE.finditer(text):
        if not m.group(0):
            continue
        part = _PARTS.get(m.group("part") or "")
        if m.group("hh"):
            yield TimeMatch(m.start(), m.end(), int(m.group("hh")), int(m.group("mm")),
                            Precision.TIME, pm_hint=False if int(m.group("hh")) > 12 else None)
            continue
        hour = zh_number(m.group("hour")) if m.group("hour") else None
        if hour is None:
            if part:
                yield TimeMatch(m.start(), m.end(), PART_OF_DAY_HOURS[part], 0,
                                Precision.PART_OF_DAY)
            continue
        minute = 30 if m.group("half") else 15 if m.group("quarter") else 0
        if m.group("min"):
            minute = zh_number(m.group("min")) or 0
        pm = None if part is None else part in ("afternoon", "evening") or (
            part == "noon" and hour < 6)
        yield TimeMatch(m.start(), m.end(), hour, minute, Precision.TIME, pm_hint=pm)
