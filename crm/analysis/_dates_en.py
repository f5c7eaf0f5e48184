"""English relative dates and times (internal): tomorrow, next Tuesday, in 3 days, at 3 pm."""

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

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WD_NAMES = r"mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:rs|rsday)?|fri(?:day)?" \
    r"|sat(?:urday)?|sun(?:day)?"
_WD = rf"(?P<wd>{_WD_NAMES})"
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1,
                 "a couple of": 2, "couple of": 2, "a few": 3, "few": 3}
_NUM = r"(?P<n>\d+|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven" \
       r"|eight|nine|ten|eleven|twelve)"
_HOUR = r"(?P<h>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"

_DAY_RE = re.compile(
    r"\b(?:(?P<rel>the day after tomorrow|tomorrow|today|tonight)"
    rf"|(?P<mod>next|this|coming|on)\s+{_WD}\b"
    r"|(?P<after_next>the week after next)"
    r"|(?P<nweek>next week|this week|end of (?:the|this) week)"
    r"|(?P<nmonth>next month)"
    rf"|in\s+{_NUM}\s+(?P<unit>days?|weeks?)"
    rf"|(?P<bare_wd>{_WD_NAMES}))\b",
    re.I,
)


def _number(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else _NUMBER_WORDS[text]


def _weekday(text: str) -> int:
    text = text.lower()
    return next(i for i, name in enumerate(_WEEKDAYS) if name.startswith(text[:3]))


def _resolve(m: re.Match[str], today: date) -> tuple[date, Precision]:
    if m.group("rel"):
        rel = m.group("rel").lower()
        offset = 2 if rel.startswith("the day") else 1 if rel == "tomorrow" else 0
        return today + timedelta(days=offset), Precision.DAY
    if m.group("wd"):
        weekday, mod = _weekday(m.group("wd")), m.group("mod").lower()
        if mod == "next":
            return weekday_in_week(today, 1, weekday), Precision.DAY
        if mod == "this":
            day = weekday_in_week(today, 0, weekday)
            return (day if day > today else next_weekday(today, weekday)), Precision.DAY
        return next_weekday(today, weekday), Precision.DAY
    if m.group("bare_wd"):
        return next_weekday(today, _weekday(m.group("bare_wd"))), Precision.DAY
    if m.group("after_next"):
        return weekday_in_week(today, 2, 0), Precision.WEEK
    if m.group("nweek"):
        text = m.group("nweek").lower()
        if text.startswith("end"):
            return weekday_in_week(today, 0, 4), Precision.DAY
        return weekday_in_week(today, 1 if text.startswith("next") else 0, 0), Precision.WEEK
    if m.group("nmonth"):
        return first_of_next_month(today), Precision.MONTH
    n, unit = _number(m.group("n")), m.group("unit").lower()
    return today + timedelta(days=n * (7 if unit.startswith("week") else 1)), Precision.DAY


def en_days(text: str, today: date) -> Iterator[DayMatch]:
    for m in _DAY_RE.finditer(text):
        day, precision = _resolve(m, today)
        if m.group("nweek") and m.group("nweek").lower() == "this week" and day <= today:
            day, precision = today + timedelta(days=1), Precision.DAY
        yield DayMatch(m.start(), m.end(), day, precision)


_TIME_RE = re.compile(
    rf"\b(?:(?:at|around|about|by)\s+{_HOUR}(?::(?P<m>[0-5]\d))?"
    r"(?:\s*(?P<ampm>a\.?m\.?|p\.?m\.?)|\s+o'?clock)?"
    r"|(?P<h2>\d{1,2})(?::(?P<m2>[0-5]\d))?\s*(?P<ampm2>a\.?m\.?|p\.?m\.?)"
    r"|(?P<hh>[0-2]?\d):(?P<mm>[0-5]\d)"
    r"|(?P<noon>noon|midday|lunchtime)"
    r"|(?:in\s+the\s+|this\s+)?(?P<part>morning|afternoon|evening|tonight))(?![\w:])",
    re.I,
)


def _ampm(text: str | None) -> bool | None:
    return None if not text else text.lower().startswith("p")


def en_times(text: str) -> Iterator[TimeMatch]:
    for m in _TIME_RE.finditer(text):
        s, e = m.start(), m.end()
        if m.group("h"):
            hour = _number(m.group("h"))
            if hour > 24:
                continue
            pm = _ampm(m.group("ampm")) if hour <= 12 else False
            yield TimeMatch(s, e, hour, int(m.group("m") or 0), Precision.TIME, pm)
        elif m.group("h2"):
            yield TimeMatch(s, e, int(m.group("h2")), int(m.group("m2") or 0), Precision.TIME,
                            _ampm(m.group("ampm2")))
        elif m.group("hh"):
            hour = int(m.group("hh"))
            yield TimeMatch(s, e, hour, int(m.group("mm")), Precision.TIME,
                            False if hour > 12 else None)
        elif m.group("noon"):
            yield TimeMatch(s, e, 12, 0, Precision.TIME, False)
        else:
            part = m.group("part").lower()
            part = "evening" if part == "tonight" else part
            yield TimeMatch(s, e, PART_OF_DAY_HOURS[part], 0, Precision.PART_OF_DAY)
