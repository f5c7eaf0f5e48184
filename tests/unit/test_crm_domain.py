"""Unit tests of the CRM domain core (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from crm.domain.calls import CallEventType, CallState, parse_call_event, project_call
from crm.domain.enums import AttemptOutcome, LeadStatus, PhoneType
from crm.domain.leads import CallingWindow, RetryPolicy, RetryRule, schedule_after_attempt
from crm.domain.names import like_pattern, name_key
from crm.domain.phones import normalise_number
from crm.domain.scripts import ScriptCandidate, recommend_script
from crm.errors import InvalidInputError, InvalidPhoneNumberError
from crm.security import hash_password, verify_password
from crm.settings import CrmSettings

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("138 0013 8000", "+8613800138000", PhoneType.MOBILE),
        ("+86 138-0013-8000", "+8613800138000", PhoneType.MOBILE),
        ("008613800138000", "+8613800138000", PhoneType.MOBILE),
        ("010-6552 9988", "+861065529988", PhoneType.LANDLINE),
        ("+1 650-253-0000", "+16502530000", PhoneType.UNKNOWN),
    ],
)
def test_given_cn_default_region_when_normalising_then_e164_and_type(raw, e164, kind):
    number = normalise_number(raw, "CN")
    assert (number.e164, number.number_type) == (e164, kind)


@pytest.mark.parametrize("raw", ["", "12345", "not a number", "+86 999"])
def test_given_garbage_when_normalising_then_error_names_field(raw):
    with pytest.raises(InvalidPhoneNumberError) as err:
        normalise_number(raw, "CN", field="phones[0]")
    assert err.value.details["field"] == "phones[0]"


def test_given_fullwidth_and_case_when_keying_names_then_equal():
    assert name_key("ＺＨＡＮＧ  San") == name_key("zhang san") == "zhang san"
    assert name_key(" 张三 ") == "张三"
    assert like_pattern("50%_x") == "%50\\%\\_x%"


def test_given_events_out_of_order_when_projecting_then_same_call():
    raw = [
        {
            "event_id": "e3",
            "call_id": "c1",
            "type": "hungup",
            "occurred_at": "2026-03-02T03:02:00Z",
            "hangup_cause": "16",
        },
        {
            "event_id": "e1",
            "call_id": "c1",
            "type": "originated",
            "occurred_at": "2026-03-02T03:00:00Z",
            "number_dialed": "13800138000",
        },
        {
            "event_id": "e2",
            "call_id": "c1",
            "type": "connected",
            "occurred_at": "2026-03-02T03:00:30+00:00",
        },
    ]
    events = [parse_call_event(e, T0) for e in raw]
    forward = project_call("c1", events)
    backward = project_call("c1", list(reversed(events)))
    assert forward == backward
    assert forward.state is CallState.ENDED
    assert forward.talk_seconds == 90.0
    assert forward.outcome == "answered"
    assert events[1].type is CallEventType.ORIGINATED


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"event_id": None}, "event_id"),
        ({"type": "exploded"}, "type"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-03-02T03:00:00"}, "occurred_at"),
        ({"intent_score": 1.5}, "intent_score"),
        ({"talk_seconds": "long"}, "talk_seconds"),
    ],
)
def test_given_bad_event_when_parsing_then_field_named(patch, field):
    data = {"event_id": "e1", "call_id": "c1", "type": "answered", **patch}
    with pytest.raises(InvalidInputError) as err:
        parse_call_event(data, T0)
    assert err.value.field == field


def test_given_no_answer_when_scheduling_then_retry_after_delay():
    r = schedule_after_attempt(
        outcome=AttemptOutcome.NO_ANSWER,
        attempts_after=1,
        now=T0,
        policy=RetryPolicy(rules={AttemptOutcome.NO_ANSWER: RetryRule(60, 4)}),
    )
    assert (r.status, r.next_attempt_at) == (LeadStatus.RETRY, T0 + timedelta(hours=1))


def test_given_last_attempt_when_scheduling_then_exhausted():
    r = schedule_after_attempt(
        outcome=AttemptOutcome.BUSY, attempts_after=3, now=T0, policy=RetryPolicy(max_attempts=3)
    )
    assert r.status is LeadStatus.EXHAUSTED


def test_given_callback_or_final_disposition_when_scheduling_then_callback_wins():
    cb = T0 + timedelta(days=7)
    r = schedule_after_attempt(
        outcome=AttemptOutcome.ANSWERED,
        attempts_after=1,
        now=T0,
        policy=RetryPolicy(),
        disposition_final=True,
        callback_at=cb,
    )
    assert (r.status, r.next_attempt_at) == (LeadStatus.CALLBACK, cb)
    done = schedule_after_attempt(
        outcome=AttemptOutcome.ANSWERED,
        attempts_after=1,
        now=T0,
        policy=RetryPolicy(),
        disposition_final=True,
    )
    assert done.status is LeadStatus.DONE


def test_given_lead_zone_when_checking_window_then_local_time_counts():
    window = CallingWindow(time(9), time(21))
    assert window.allows(T0, "Asia/Shanghai")  # 11:00 local
    assert not window.allows(T0, "America/New_York")  # 22:00 local the day before


def test_given_tags_when_recommending_then_best_overlap_in_language():
    c = [
        ScriptCandidate("1", "generic", "zh", frozenset(), 0, "您好"),
        ScriptCandidate("2", "vip-zh", "zh", frozenset({"VIP"}), 0, "尊敬的"),
        ScriptCandidate("3", "vip-en", "en", frozenset({"vip"}), 0, "Dear"),
        ScriptCandidate("4", "other", "zh", frozenset({"cold"}), 9, "x"),
    ]
    assert recommend_script(c, ["vip"], "en").id == "3"
    assert recommend_script(c, ["vip"], "zh").id == "2"
    assert recommend_script(c, [], "zh").id == "1"


def test_given_password_when_hashing_then_verifies_and_salted():
    h1, h2 = hash_password("s3cret-pw", n=16), hash_password("s3cret-pw", n=16)
    assert h1 != h2 and h1.startswith("scrypt$16$")
    assert verify_password("s3cret-pw", h1) and not verify_password("wrong", h1)
    assert not verify_password("x", "garbage")


def test_given_env_when_loading_settings_then_typed_and_loud():
    s = CrmSettings.from_env({"DIALCRM_DEFAULT_REGION": "HK", "DIALCRM_IMPORT_BATCH_SIZE": "7"})
    assert (s.default_region, s.import_batch_size, s.timezone) == ("HK", 7, "Asia/Shanghai")
    with pytest.raises(InvalidInputError) as err:
        CrmSettings.from_env({"DIALCRM_TIMEZONE": "Mars/Base"})
    assert err.value.field == "timezone"
