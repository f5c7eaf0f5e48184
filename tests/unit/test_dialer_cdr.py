"""The CDR cross-check: AMI ``Cdr`` events (a recorded transcript) matched to our calls."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ari_app.ami import AmiEvent, cdr_record
from ari_app.dialer import events as ev
from ari_app.dialer.cdr import CdrCrossCheck, call_id_of, judge
from ari_app.dialer.model import CallAttempt
from crm.domain.calls import parse_call_event, project_call
from crm.errors import InvalidInputError

TRANSCRIPT = Path(__file__).parent / "data" / "ami_cdr_transcript.jsonl"
HUMAN = "call-0130334c-19b2-4e71-8264-ce5423b2e644"  # answered 14:53:04, hung up 14:53:20
BUSY = "call-48e312af-2740-4b91-8b88-3fc0127b9e40"


def recorded() -> list[AmiEvent]:
    lines = TRANSCRIPT.read_text().splitlines()
    return [AmiEvent(d["Event"], d) for d in map(json.loads, lines)]


class Clock:
    def now(self) -> float:
        return 1_000.0


def test_given_recorded_cdr_events_when_parsed_then_calls_matched_and_others_ignored() -> None:
    records = [r for r in map(cdr_record, recorded()) if r is not None]
    assert len(records) == 4
    far, near, busy, agent = records
    assert (far.unique_id, far.billsec, far.disposition) == (f"{HUMAN};2", 16, "ANSWERED")
    assert near.answer == datetime(2026, 11, 26, 14, 53, 4) and near.billsec == 1
    assert busy.answer is None and busy.disposition == "BUSY"
    assert [call_id_of(r) for r in records] == [HUMAN, HUMAN, BUSY, None]
    assert cdr_record(AmiEvent("Hangup", {"UniqueID": "x"})) is None


def test_given_local_legs_when_judged_then_answered_span_from_both_halves() -> None:
    records = [r for r in map(cdr_record, recorded()) if r is not None and
               call_id_of(r) == HUMAN]
    good = judge(HUMAN, records, ours=15.4, tolerance_s=2.0)
    assert (good.cdr_billsec, good.delta_s, good.mismatch) == (16.0, 0.6, False)
    assert good.cdr_records == 2 and good.cdr_disposition == "ANSWERED"
    bad = judge(HUMAN, records, ours=11.0, tolerance_s=2.0)
    assert bad.mismatch and bad.delta_s == 5.0


def test_given_unanswered_call_when_judged_then_zero_billsec_and_cdr_disposition() -> None:
    busy = [r for r in map(cdr_record, recorded()) if r is not None and call_id_of(r) == BUSY]
    verdict = judge(BUSY, busy, ours=0.0, tolerance_s=2.0)
    assert (verdict.cdr_billsec, verdict.cdr_disposition, verdict.mismatch) == (0.0, "BUSY", False)


def _call(call_id: str, answered: float | None, ended: float) -> CallAttempt:
    return CallAttempt(call_id, "c1", "l1", "cu1", "+8613900000000", answered_at=answered,
                       ended_at=ended, bridged_at=answered)


async def test_given_cdrs_and_finished_call_when_settled_then_verdict_emitted_once() -> None:
    emitted: list[ev.CallEvent] = []

    async def emit(event: ev.CallEvent) -> None:
        emitted.append(event)

    check = CdrCrossCheck(emit, Clock(), settle_s=0.05, missing_after_s=0.2)
    events = recorded()
    await check.on_ami_event(events[0])  # the far half arrives before our end
    check.call_finished(_call(HUMAN, 100.0, 115.8))
    await check.on_ami_event(events[1])
    await check.on_ami_event(events[3])  # the agent's leg: not ours to match
    for _ in range(100):
        if emitted:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert len(emitted) == 1
    payload = emitted[0].payload()
    assert payload["type"] == "cdr_checked" and payload["call_id"] == HUMAN
    assert (payload["cdr_billsec"], payload["answered_seconds"], payload["cdr_mismatch"]) == (
        16.0, 15.8, False)
    assert check.stats.checked == 1 and check.stats.mismatched == 0
    assert check.snapshot().pending == 0
    await check.close()


async def test_given_call_without_any_cdr_when_waited_then_counted_missing() -> None:
    async def emit(event: ev.CallEvent) -> None:
        raise AssertionError("nothing to emit")

    check = CdrCrossCheck(emit, Clock(), settle_s=0.01, missing_after_s=0.05)
    check.call_finished(_call("call-nocdr", None, 5.0))
    for _ in range(100):
        if check.stats.missing:
            break
        await asyncio.sleep(0.01)
    assert check.stats.missing == 1 and check.stats.checked == 0
    await check.close()


def test_given_cdr_checked_event_when_crm_parses_then_kept_in_stream_not_projected() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    payload = {"event_id": "e1", "call_id": "c1", "type": "cdr_checked", "cdr_billsec": 16.0,
               "answered_seconds": 15.8, "cdr_delta_seconds": 0.2, "cdr_mismatch": False,
               "cdr_disposition": "ANSWERED", "cdr_records": 2}
    event = parse_call_event(payload, now)
    assert event.payload()["cdr_billsec"] == 16.0 and event.payload()["cdr_mismatch"] is False
    ended = parse_call_event({"event_id": "e0", "call_id": "c1", "type": "ended",
                              "talk_seconds": 15.0}, now)
    call = project_call("c1", [ended, event])
    assert call.talk_seconds == 15.0 and call.state.value == "ended"


@pytest.mark.parametrize(("field", "value"), [
    ("cdr_mismatch", "yes"), ("cdr_billsec", "16"), ("cdr_disposition", "x" * 40),
    ("cdr_records", True)])
def test_given_bad_cdr_field_when_crm_parses_then_error_names_it(field, value) -> None:
    payload = {"event_id": "e1", "call_id": "c1", "type": "cdr_checked", field: value}
    with pytest.raises(InvalidInputError) as err:
        parse_call_event(payload, datetime(2026, 3, 2, tzinfo=UTC))
    assert err.value.field == field
