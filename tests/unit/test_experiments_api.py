"""Experiments through the HTTP API (SQLite, and PostgreSQL with CRM_TEST_DATABASE_URL):
roles, 4xx naming the field, deterministic recorded assignments, the report from call records
(JSON and CSV) against the statistics computed by hand."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import pytest

from crm.experiments.assign import Variant, assign_variant
from crm.experiments.stats import newcombe_diff, welch_diff
from crm.service import CrmService
from crm.testing import CRM_T0, CrmActor

POP = {"key": "pop-test", "name": "Pop vs no pop", "feature": "pop", "unit": "agent",
       "variants": [{"name": "on", "weight": 1}, {"name": "off", "weight": 1}]}


async def call(client: Any, method: str, path: str, who: CrmActor | None,
               body: Any = None) -> tuple[int, Any]:
    resp = await client.request(method, path, json=body, headers=who.headers if who else {})
    if resp.content_type == "text/csv":
        return resp.status, await resp.text()
    return resp.status, await resp.json()


async def a_call(svc: CrmService, n: int, *, agent: str | None, talk: float | None,
                 disposition: str | None = None, lead_id: str | None = None,
                 abandoned: bool = False) -> None:
    start = CRM_T0 + timedelta(minutes=n)
    call_id = f"call-exp-{n}"
    ident = {"agent_id": agent, "lead_id": lead_id}
    events: list[dict[str, Any]] = [
        {"type": "originated", "occurred_at": start, **ident},
        {"type": "answered", "occurred_at": start + timedelta(seconds=3)},
    ]
    end = start + timedelta(seconds=5 + (talk or 0))
    if talk is not None:
        events.append({"type": "bridged", "occurred_at": start + timedelta(seconds=5),
                       "agent_id": agent})
    events.append({"type": "ended", "occurred_at": end, "talk_seconds": talk or 0.0,
                   "outcome": "abandoned" if abandoned else "answered", **ident})
    if disposition:
        events.append({"type": "disposition_set", "occurred_at": end + timedelta(seconds=2),
                       "disposition": disposition, "agent_id": agent})
    for i, e in enumerate(events):
        e["occurred_at"] = e["occurred_at"].isoformat()
        await svc.ingest_call_event({"event_id": f"{call_id}-{i}", "call_id": call_id, **e})


async def test_given_agent_or_no_token_when_experiment_routes_called_then_refused(
    crm_client: Any, crm_actors: dict[str, CrmActor]
) -> None:
    status, body = await call(crm_client, "POST", "/api/experiments", crm_actors["agent"], POP)
    assert status == 403 and body["error"] == "forbidden"
    status, _ = await call(crm_client, "GET", "/api/experiments", None)
    assert status == 401
    status, _ = await call(crm_client, "GET", "/api/experiments/variant?key=x&unit_id=y",
                           crm_actors["agent"])
    assert status == 403


@pytest.mark.parametrize(("change", "field"), [
    ({"key": "Bad Key"}, "key"),
    ({"unit": "team"}, "unit"),
    ({"feature": "colour"}, "feature"),
    ({"variants": [{"name": "on"}]}, "variants"),
    ({"variants": [{"name": "on", "weight": 0}, {"name": "off"}]}, "variants.0.weight"),
    ({"variants": [{"name": "A"}, {"name": "B"}]}, "variants"),  # pop needs on/off
    ({"variants": [{"name": "on"}, {"name": "on"}]}, "variants"),
    ({"name": ""}, "name"),
    ({"extra": 1}, "extra"),
])
async def test_given_bad_definition_then_400_naming_the_field_and_nothing_written(
    crm_client: Any, crm_actors: dict[str, CrmActor], change: dict[str, Any], field: str
) -> None:
    status, body = await call(crm_client, "POST", "/api/experiments", crm_actors["manager"],
                              {**POP, **change})
    assert status == 400, body
    assert body["details"]["field"] == field
    _, listed = await call(crm_client, "GET", "/api/experiments", crm_actors["manager"])
    assert listed["total"] == 0


async def test_given_running_experiment_then_duplicates_409_and_bad_ids_400_404(
    crm_client: Any, crm_actors: dict[str, CrmActor]
) -> None:
    boss = crm_actors["manager"]
    status, created = await call(crm_client, "POST", "/api/experiments", boss, POP)
    assert status == 201 and created["status"] == "running"
    status, body = await call(crm_client, "POST", "/api/experiments", boss, POP)
    assert status == 409
    status, body = await call(crm_client, "POST", "/api/experiments", boss,
                              {**POP, "key": "pop-second"})
    assert status == 409 and body["details"]["field"] == "feature"
    status, body = await call(crm_client, "GET", "/api/experiments/not-a-uuid", boss)
    assert status == 400 and body["details"]["field"] == "experiment_id"
    status, body = await call(crm_client, "GET", f"/api/experiments/{uuid.uuid4()}/report",
                              boss)
    assert status == 404
    status, body = await call(crm_client, "GET",
                              f"/api/experiments/{created['id']}/report?format=xml", boss)
    assert status == 400 and body["details"]["field"] == "format"


async def test_given_pop_experiment_when_variants_asked_then_deterministic_and_recorded(
    crm_client: Any, crm_actors: dict[str, CrmActor], crm_service: CrmService
) -> None:
    boss, dialer = crm_actors["manager"], crm_actors["dialer"]
    _, exp = await call(crm_client, "POST", "/api/experiments", boss, POP)
    variants = [Variant("on", 1), Variant("off", 1)]
    seen = {}
    for unit in ("agent", "agent2", "a3", "a4", "a5"):
        status, body = await call(crm_client, "GET",
                                  f"/api/experiments/variant?key=pop-test&unit_id={unit}", dialer)
        assert status == 200 and body["running"]
        assert body["variant"] == assign_variant(exp["id"], unit, variants)
        seen[unit] = body["variant"]
    again = await crm_service.experiments.variant_for("pop-test", "a3")
    assert again == seen["a3"]
    assert await crm_service.experiments.feature_variant("pop", "agent", "a4") == \
        ("pop-test", seen["a4"])
    status, page = await call(crm_client, "GET",
                              f"/api/experiments/{exp['id']}/assignments", boss)
    assert {a["unit_id"]: a["variant"] for a in page["items"]} == seen and page["total"] == 5

    status, stopped = await call(crm_client, "POST", f"/api/experiments/{exp['id']}/stop", boss)
    assert status == 200 and stopped["status"] == "stopped" and stopped["stopped_at"]
    status, _ = await call(crm_client, "POST", f"/api/experiments/{exp['id']}/stop", boss)
    assert status == 409
    _, body = await call(crm_client, "GET",
                         "/api/experiments/variant?key=pop-test&unit_id=agent", dialer)
    assert body == {"key": "pop-test", "unit_id": "agent", "variant": None, "running": False}


async def test_given_calls_of_both_variants_when_report_then_talk_conversion_with_cis(
    crm_client: Any, crm_actors: dict[str, CrmActor], crm_service: CrmService
) -> None:
    boss = crm_actors["manager"]
    _, exp = await call(crm_client, "POST", "/api/experiments", boss, POP)
    variants = [Variant("on", 1), Variant("off", 1)]
    # find one agent of each variant among the fixture's agents (or users we add)
    names = ["agent", "agent2"] + [f"extra{i}" for i in range(8)]
    by_variant: dict[str, str] = {}
    for name in names:
        v = assign_variant(exp["id"], name, variants)
        if v not in by_variant:
            if name.startswith("extra"):
                from crm.domain.enums import Role
                await crm_service.auth.create_user(name, Role.AGENT, password="password-1")
            by_variant[v] = name
    assert set(by_variant) == {"on", "off"}
    on_talk = [100.0, 140.0, 120.0, 160.0, 90.0]
    off_talk = [80.0, 70.0, 110.0, 95.0]
    n = 0
    for talk, disp in zip(on_talk, ["sale", "not_interested", "sale", "callback", "sale"],
                          strict=True):
        n += 1
        await a_call(crm_service, n, agent=by_variant["on"], talk=talk, disposition=disp)
    for talk, disp in zip(off_talk, ["sale", "not_interested", "not_interested", "wrong_number"],
                          strict=True):
        n += 1
        await a_call(crm_service, n, agent=by_variant["off"], talk=talk, disposition=disp)
    await crm_service.experiments.variant_for("pop-test", by_variant["on"])  # one recorded

    status, report = await call(crm_client, "GET", f"/api/experiments/{exp['id']}/report", boss)
    assert status == 200, report
    on, off = report["variants"]
    assert (on["variant"], off["variant"]) == ("on", "off") and report["control"] == "on"
    assert (on["connects"], off["connects"]) == (5, 4)
    assert on["units_assigned"] == 1 and off["units_assigned"] == 0
    assert on["talk_seconds_mean"]["value"] == pytest.approx(122.0)
    assert off["talk_seconds_mean"]["value"] == pytest.approx(88.75)
    expected = welch_diff(off_talk, on_talk)
    diff = off["talk_seconds_mean"]["diff_vs_control"]
    assert diff["value"] == pytest.approx(expected.value, abs=1e-5)
    assert (diff["low"], diff["high"]) == pytest.approx((expected.low, expected.high), abs=1e-5)
    assert off["talk_seconds_mean"]["relative_change"]["value"] == pytest.approx(
        (88.75 - 122.0) / 122.0, abs=1e-5)
    assert on["conversion_rate"]["value"] == pytest.approx(0.6)
    conv = newcombe_diff(1, 4, 3, 5)
    assert off["conversion_rate"]["diff_vs_control"]["low"] == pytest.approx(conv.low, abs=1e-5)
    assert on["abandon_rate"] is None and report["notes"]

    status, text = await call(crm_client, "GET",
                              f"/api/experiments/{exp['id']}/report?format=csv", boss)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {(r["variant"], r["metric"]) for r in rows} == {
        ("on", "talk_seconds_mean"), ("on", "conversion_rate"),
        ("off", "talk_seconds_mean"), ("off", "conversion_rate")}
    off_talk_row = next(r for r in rows if r["variant"] == "off"
                        and r["metric"] == "talk_seconds_mean")
    assert float(off_talk_row["diff_ci_low"]) == pytest.approx(expected.low, abs=1e-5)


async def test_given_lead_experiment_when_calls_abandoned_then_abandon_rate_per_variant(
    crm_client: Any, crm_actors: dict[str, CrmActor], crm_service: CrmService
) -> None:
    boss = crm_actors["manager"]
    _, exp = await call(crm_client, "POST", "/api/experiments", boss, {
        "key": "pacing-ab", "name": "ratio vs model", "feature": "pacing", "unit": "lead",
        "variants": [{"name": "model", "weight": 1}, {"name": "ratio", "weight": 1}]})
    campaign = await crm_service.campaigns.create({"name": "exp-leads"})
    rows = [{"phone": f"+86138001381{i:02d}", "name": f"L{i}"} for i in range(12)]
    async for _ in crm_service.import_leads(campaign.id, rows):
        pass
    import sqlalchemy as sa

    from crm.db.models_ops import Lead
    async with crm_service.engine.connect() as conn:
        lead_ids = [str(r[0]) for r in (await conn.execute(
            sa.select(Lead.id).where(Lead.campaign_id == campaign.id))).all()]
    expected = {"model": [0, 0], "ratio": [0, 0]}  # [abandoned, connected]
    for i, lead_id in enumerate(lead_ids):
        variant = assign_variant(exp["id"], lead_id, [Variant("model", 1), Variant("ratio", 1)])
        abandoned = i % 3 == 0
        expected[variant][0 if abandoned else 1] += 1
        await a_call(crm_service, 100 + i, agent=None if abandoned else "agent",
                     talk=None if abandoned else 30.0 + i, lead_id=lead_id, abandoned=abandoned)
    _, report = await call(crm_client, "GET", f"/api/experiments/{exp['id']}/report", boss)
    for v in report["variants"]:
        ab, conn = expected[v["variant"]]
        assert v["abandon_rate"]["abandoned"] == ab
        assert v["abandon_rate"]["n"] == ab + conn
        assert v["connects"] == conn
