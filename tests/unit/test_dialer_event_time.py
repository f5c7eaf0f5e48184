"""Call times come from Asterisk's event timestamps, not from when a busy controller got to them."""

from __future__ import annotations

from ari_app.ari import AriEvent
from ari_app.dialer.calls import event_time

STAMP = "2026-11-26T15:03:43.685+0000"
AT = 1795705423.685  # the same instant, epoch seconds


def test_given_event_with_timestamp_when_handled_late_then_asterisk_time_used() -> None:
    event = AriEvent.from_json({"type": "ChannelDestroyed", "timestamp": STAMP})
    assert abs(event_time(event, AT + 4.0) - AT) < 1e-6


def test_given_other_zone_offset_when_parsed_then_same_instant() -> None:
    event = AriEvent.from_json({"type": "StasisStart", "timestamp": "2026-11-26T23:03:43.685+0800"})
    assert abs(event_time(event, AT + 1.0) - AT) < 1e-6


def test_given_no_or_bad_or_far_timestamp_then_our_time() -> None:
    assert event_time(AriEvent.from_json({"type": "StasisStart"}), AT) == AT
    bad = AriEvent.from_json({"type": "StasisStart", "timestamp": "yesterday"})
    assert event_time(bad, AT) == AT
    far = AriEvent.from_json({"type": "StasisStart", "timestamp": STAMP})
    assert event_time(far, AT + 3600) == AT + 3600  # a clock an hour off: trust our own
    assert event_time(far, 12.5) == 12.5  # a test clock (not a wall clock)
