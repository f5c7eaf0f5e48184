"""Relative-date resolution in the customer's time zone (crm.analysis.dates)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from crm.analysis import AnalysisError, Precision, earliest_future, resolve_dates

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Thursday 26 November 2026, 11:00 in Shanghai
NOW = datetime(2026, 11, 26, 11, 0, tzinfo=SHANGHAI)


def one(text, now=NOW, tz="Asia/Shanghai"):
    mentions = resolve_dates(text, now, tz)
    assert len(mentions) == 1, mentions
    return mentions[0]


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("下周再联系", datetime(2026, 11, 30, 10, 0), Precision.WEEK),
        ("下周二下午三点", datetime(2026, 12, 1, 15, 0), Precision.TIME),
        ("明天上午十点半打给我", datetime(2026, 11, 27, 10, 30), Precision.TIME),
        ("周五吧", datetime(2026, 11, 27, 10, 0), Precision.DAY),
        ("3天后再说", datetime(2026, 11, 29, 10, 0), Precision.DAY),
        ("今晚8点", datetime(2026, 11, 26, 20, 0), Precision.TIME),
        ("下下周一", datetime(2026, 12, 7, 10, 0), Precision.DAY),
        ("12月3号", datetime(2026, 12, 3, 10, 0), Precision.DAY),
        ("call me next Tuesday at 3", datetime(2026, 12, 1, 15, 0), Precision.TIME),
        ("tomorrow morning", datetime(2026, 11, 27, 10, 0), Precision.PART_OF_DAY),
        ("in two days", datetime(2026, 11, 28, 10, 0), Precision.DAY),
        ("this Friday at 10:30 am", datetime(2026, 11, 27, 10, 30), Precision.TIME),
        ("at 4 o'clock tomorrow", datetime(2026, 11, 27, 16, 0), Precision.TIME),
        ("next week", datetime(2026, 11, 30, 10, 0), Precision.WEEK),
        ("on Monday afternoon", datetime(2026, 11, 30, 15, 0), Precision.PART_OF_DAY),
    ],
)
def test_given_relative_phrase_when_resolving_then_local_datetime(text, expected, precision):
    mention = one(text)
    assert mention.when == expected.replace(tzinfo=SHANGHAI)
    assert mention.precision is precision


def test_given_time_already_passed_today_when_resolving_then_tomorrow():
    assert one("at 9 am").when == datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)


def test_given_customer_zone_differs_when_resolving_then_uses_customer_date():
    # 11:00 Thursday in Shanghai is still Wednesday 22:00 in New York (EST)
    ny = ZoneInfo("America/New_York")
    mention = one("tomorrow at 3", tz="America/New_York")
    assert mention.when == datetime(2026, 11, 26, 15, 0, tzinfo=ny)
    assert mention.when.utcoffset().total_seconds() == -5 * 3600


def test_given_dst_change_when_resolving_then_offset_of_target_day():
    ny = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 6, 12, 0, tzinfo=ny)  # Friday before the March DST switch
    mention = one("next Monday at 10 am", now=now, tz=ny)
    assert mention.when.utcoffset().total_seconds() == -4 * 3600


def test_given_no_date_when_resolving_then_nothing():
    assert resolve_dates("we order 200 units, can you call later?", NOW, "Asia/Shanghai") == ()


def test_given_naive_now_when_resolving_then_error():
    with pytest.raises(AnalysisError):
        resolve_dates("明天", datetime(2026, 1, 1), "Asia/Shanghai")
    with pytest.raises(AnalysisError, match="Mars/Olympus"):
        resolve_dates("明天", NOW, "Mars/Olympus")


def test_given_several_mentions_when_choosing_then_earliest_future():
    mentions = resolve_dates("明天或者下周二下午三点", NOW, "Asia/Shanghai")
    assert [m.when.hour for m in mentions] == [10, 15]
    assert earliest_future(mentions, NOW).text == "明天"
