"""Retry rules per outcome: a delay and a maximum of retries for each, per campaign (issue 3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.domain.enums import AttemptOutcome, LeadStatus
from crm.domain.leads import RetryPolicy, RetryRule, count_outcome, schedule_after_attempt
from crm.errors import InvalidInputError

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
RULES = {
    AttemptOutcome.NO_ANSWER: RetryRule(60, 3),
    AttemptOutcome.BUSY: RetryRule(7, 2),
    AttemptOutcome.FAILED: RetryRule(30, 0),
    AttemptOutcome.MACHINE: RetryRule(240, 1),
    AttemptOutcome.ABANDONED: RetryRule(3, 1),
}


def _run(policy: RetryPolicy, outcomes: list[AttemptOutcome]) -> list[tuple[Any, ...]]:
    counts: dict[str, int] = {}
    out = []
    for n, outcome in enumerate(outcomes, start=1):
        counts = count_outcome(counts, outcome)
        r = schedule_after_attempt(outcome=outcome, attempts_after=n, now=T0, policy=policy,
                                   counts_after=counts)
        out.append((r.status, r.next_attempt_at and r.next_attempt_at - T0, r.close_reason))
    return out


@pytest.mark.parametrize(("outcome", "minutes"), [
    (AttemptOutcome.NO_ANSWER, 60), (AttemptOutcome.BUSY, 7), (AttemptOutcome.MACHINE, 240),
    (AttemptOutcome.ABANDONED, 3), (AttemptOutcome.ANSWERED, 60)])
def test_given_outcome_when_scheduling_then_its_own_delay(outcome, minutes) -> None:
    [(status, delay, reason)] = _run(RetryPolicy(max_attempts=10, rules=RULES), [outcome])
    assert (status, delay, reason) == (LeadStatus.RETRY, timedelta(minutes=minutes), None)


def test_given_busy_twice_allowed_when_third_busy_then_closed_with_reason() -> None:
    got = _run(RetryPolicy(max_attempts=10, rules=RULES), [AttemptOutcome.BUSY] * 3)
    assert [g[0] for g in got] == [LeadStatus.RETRY, LeadStatus.RETRY, LeadStatus.EXHAUSTED]
    assert got[2][1:] == (None, "busy retries exhausted (2)")


def test_given_zero_retries_for_failed_when_failed_then_closed_at_once() -> None:
    [got] = _run(RetryPolicy(max_attempts=10, rules=RULES), [AttemptOutcome.FAILED])
    assert got == (LeadStatus.EXHAUSTED, None, "failed retries exhausted (0)")


def test_given_mixed_outcomes_when_each_under_its_maximum_then_retried() -> None:
    seq = [AttemptOutcome.BUSY, AttemptOutcome.MACHINE, AttemptOutcome.BUSY,
           AttemptOutcome.NO_ANSWER, AttemptOutcome.MACHINE]
    got = _run(RetryPolicy(max_attempts=10, rules=RULES), seq)
    assert [g[0] for g in got] == [LeadStatus.RETRY] * 4 + [LeadStatus.EXHAUSTED]
    assert got[-1][2] == "machine retries exhausted (1)"


def test_given_answered_without_final_disposition_when_retried_then_counts_as_no_answer() -> None:
    rules = {**RULES, AttemptOutcome.NO_ANSWER: RetryRule(5, 1)}
    policy = RetryPolicy(max_attempts=10, rules=rules)
    got = _run(policy, [AttemptOutcome.NO_ANSWER, AttemptOutcome.ANSWERED])
    assert got[1] == (LeadStatus.EXHAUSTED, None, "no_answer retries exhausted (1)")


def test_given_max_attempts_lower_than_outcome_maximum_when_reached_then_exhausted() -> None:
    got = _run(RetryPolicy(max_attempts=2, rules=RULES), [AttemptOutcome.NO_ANSWER] * 2)
    assert got[1] == (LeadStatus.EXHAUSTED, None, "max attempts reached (2)")


def test_given_invalid_number_when_scheduling_then_done_with_reason() -> None:
    [got] = _run(RetryPolicy(rules=RULES), [AttemptOutcome.INVALID_NUMBER])
    assert got == (LeadStatus.DONE, None, "invalid number")


# --- the campaign API and the hopper -------------------------------------------------------

NEW_FIELDS = {"retry_machine_minutes": 45, "retry_abandoned_minutes": 2,
              "max_retries_no_answer": 3, "max_retries_busy": 1, "max_retries_machine": 2,
              "max_retries_abandoned": 0, "max_retries_failed": 5}


async def test_given_retry_fields_when_creating_and_patching_campaign_then_stored(
    crm_client, crm_actors
) -> None:
    m = crm_actors["manager"].headers
    resp = await crm_client.post("/api/campaigns", json={"name": "r", **NEW_FIELDS}, headers=m)
    camp = await resp.json()
    assert resp.status == 201 and {k: camp[k] for k in NEW_FIELDS} == NEW_FIELDS
    resp = await crm_client.patch(f"/api/campaigns/{camp['id']}",
                                  json={"max_retries_busy": 0}, headers=m)
    assert resp.status == 200 and (await resp.json())["max_retries_busy"] == 0
    fresh = await (await crm_client.post("/api/campaigns", json={"name": "d"}, headers=m)).json()
    assert (fresh["retry_machine_minutes"], fresh["retry_abandoned_minutes"]) == (120, 5)
    assert all(fresh[f"max_retries_{o}"] == 4
               for o in ("no_answer", "busy", "machine", "abandoned", "failed"))


@pytest.mark.parametrize(("field", "value"), [
    ("max_retries_busy", -1), ("max_retries_machine", 101), ("max_retries_failed", "two"),
    ("max_retries_no_answer", None), ("retry_machine_minutes", 0),
    ("retry_abandoned_minutes", 100_001), ("max_retries_abandoned", 1.5)])
async def test_given_bad_retry_value_when_writing_campaign_then_400_naming_field(
    crm_client, crm_actors, field, value
) -> None:
    m = crm_actors["manager"].headers
    resp = await crm_client.post("/api/campaigns", json={"name": "x", field: value}, headers=m)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == field
    camp = await (await crm_client.post("/api/campaigns", json={"name": "y"}, headers=m)).json()
    resp = await crm_client.patch(f"/api/campaigns/{camp['id']}", json={field: value}, headers=m)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == field
    listed = await (await crm_client.get("/api/campaigns", headers=m)).json()
    assert [c["name"] for c in listed["items"]] == ["y"], "no half-written campaign"
    after = await (await crm_client.get(f"/api/campaigns/{camp['id']}", headers=m)).json()
    assert after[field] == camp[field]


async def test_given_service_call_with_bad_maximum_then_invalid_input_names_field(
    crm_service
) -> None:
    with pytest.raises(InvalidInputError) as err:
        await crm_service.campaigns.create({"name": "s", "max_retries_busy": -2})
    assert err.value.field == "max_retries_busy"


async def _claim(client, headers, campaign_id: str) -> list[dict[str, Any]]:
    resp = await client.post(f"/api/campaigns/{campaign_id}/hopper/claim",
                             json={"worker": "w1", "limit": 10}, headers=headers)
    assert resp.status == 200
    return (await resp.json())["items"]


async def _attempt(client, headers, lead_id: str, outcome: str) -> dict[str, Any]:
    resp = await client.post(f"/api/leads/{lead_id}/attempts",
                             json={"outcome": outcome, "worker": "w1"}, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_given_busy_maximum_when_busy_retries_used_then_hopper_closes_lead_with_reason(
    crm_client, crm_actors, crm_service, crm_clock
) -> None:
    m, d = crm_actors["manager"].headers, crm_actors["dialer"].headers
    crm_clock.current = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    camp = await (await crm_client.post("/api/campaigns", json={
        "name": "busy", "max_retries_busy": 1, "retry_busy_minutes": 7,
        "retry_machine_minutes": 9, "max_retries_machine": 3}, headers=m)).json()
    async for _ in crm_service.import_leads(
            uuid.UUID(camp["id"]), [{"phone": "+8613900000016"}, {"phone": "+8613900000024"}]):
        pass
    leads = {lead["phone_e164"]: lead for lead in await _claim(crm_client, d, camp["id"])}
    busy, machine = leads["+8613900000016"]["id"], leads["+8613900000024"]["id"]

    first = await _attempt(crm_client, d, busy, "busy")
    assert first["status"] == "retry" and first["outcome_counts"] == {"busy": 1}
    assert first["next_attempt_at"] == (crm_clock.current + timedelta(minutes=7)).isoformat()
    second = await _attempt(crm_client, d, machine, "machine")
    assert second["next_attempt_at"] == (crm_clock.current + timedelta(minutes=9)).isoformat()

    crm_clock.advance(timedelta(minutes=7))
    assert [lead["id"] for lead in await _claim(crm_client, d, camp["id"])] == [busy]
    closed = await _attempt(crm_client, d, busy, "busy")
    assert (closed["status"], closed["close_reason"]) == ("exhausted",
                                                          "busy retries exhausted (1)")
    assert closed["next_attempt_at"] is None

    # The manager lowers the machine maximum: the waiting machine lead is closed, not dialled.
    resp = await crm_client.patch(f"/api/campaigns/{camp['id']}",
                                  json={"max_retries_machine": 0}, headers=m)
    assert resp.status == 200
    crm_clock.advance(timedelta(minutes=5))
    assert await _claim(crm_client, d, camp["id"]) == []
    lead = await crm_service.campaigns.get_lead(uuid.UUID(machine))
    assert (lead.status, lead.close_reason) == ("exhausted", "machine retries exhausted (0)")

    # Reopened by the manager: its retry counts start afresh and it is dialable again.
    resp = await crm_client.patch(f"/api/leads/{busy}", json={"status": "new"}, headers=m)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["status"], body["outcome_counts"], body["close_reason"]) == ("new", {}, None)
    assert [lead["id"] for lead in await _claim(crm_client, d, camp["id"])] == [busy]
