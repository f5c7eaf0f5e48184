"""Reports per campaign / agent / day (JSON and CSV), on SQLite and PostgreSQL when configured."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from crm.db.engine import make_sessionmaker
from crm.db.models import Call
from crm.services.reports import CSV_COLUMNS

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai, 2026-03-02


async def _seed(crm_service, crm_actors):
    """Two campaigns (one the manager's), calls over two local days, two agents."""
    mine = await crm_service.campaigns.create(
        {"name": "mine", "manager_id": crm_actors["manager"].user_id})
    other = await crm_service.campaigns.create({"name": "other"})
    a1, a2 = crm_actors["agent"].user_id, crm_actors["agent2"].user_id
    day2 = T0 + timedelta(hours=14)  # 01:00 local on 2026-03-03, still 03-02 in UTC

    def call(n, campaign, agent, at, outcome, talk=None, wrap=None, disposition=None):
        bridged = at + timedelta(seconds=5) if outcome == "answered" else None
        return Call(call_id=f"c{n}", campaign_id=campaign.id, agent_id=agent, state="ended",
                    originated_at=at, answered_at=bridged, bridged_at=bridged,
                    ended_at=at + timedelta(seconds=60), outcome=outcome, talk_seconds=talk,
                    wrap_seconds=wrap, disposition=disposition)

    rows = [
        call(1, mine, a1, T0, "answered", 50.0, 10.0, "sale"),
        call(2, mine, a1, T0 + timedelta(minutes=2), "answered", 30.0, 5.0, "not_interested"),
        call(3, mine, None, T0 + timedelta(minutes=3), "abandoned"),
        call(4, mine, None, T0 + timedelta(minutes=4), "no_answer"),
        call(5, mine, a2, day2, "answered", 20.0, 4.0, "sale"),
        call(6, mine, None, day2, "machine"),
        call(7, other, a2, T0, "answered", 99.0, 1.0, "sale"),
        call(8, mine, a1, T0 - timedelta(days=30), "answered", 10.0, 1.0, "sale"),  # too old
    ]
    async with make_sessionmaker(crm_service.engine).begin() as s:
        s.add_all(rows)
    return mine, other


async def test_given_calls_when_manager_reports_per_campaign_then_only_own_figures(
    crm_client, crm_service, crm_actors
):
    mine, _ = await _seed(crm_service, crm_actors)
    resp = await crm_client.get("/api/reports/campaigns?from=2026-03-01&to=2026-03-03",
                                headers=crm_actors["manager"].headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [r["label"] for r in body["rows"]] == ["mine"]
    r = body["rows"][0]
    assert r["key"] == str(mine.id)
    assert (r["calls"], r["answered"], r["connects"], r["abandoned"], r["machines"]) == (
        6, 4, 3, 1, 1)
    assert (r["talk_seconds"], r["wrap_seconds"], r["sales"]) == (100.0, 19.0, 2)
    assert r["abandon_rate"] == 0.25 and r["connect_rate"] == 0.5
    assert r["dispositions"] == {"not_interested": 1, "sale": 2}
    assert r["occupancy"] is None  # not known per campaign

    admin = await crm_client.get("/api/reports/campaigns?from=2026-03-01&to=2026-03-03",
                                 headers=crm_actors["admin"].headers)
    assert [r["label"] for r in (await admin.json())["rows"]] == ["mine", "other"]


async def test_given_calls_when_reporting_per_day_then_local_days(
    crm_client, crm_service, crm_actors
):
    await _seed(crm_service, crm_actors)
    resp = await crm_client.get("/api/reports/days?from=2026-03-02&to=2026-03-03",
                                headers=crm_actors["admin"].headers)
    rows = (await resp.json())["rows"]
    assert [(r["key"], r["calls"]) for r in rows] == [("2026-03-02", 5), ("2026-03-03", 2)]
    only = await crm_client.get("/api/reports/days?from=2026-03-03&to=2026-03-03",
                                headers=crm_actors["admin"].headers)
    assert [r["key"] for r in (await only.json())["rows"]] == ["2026-03-03"]


async def test_given_calls_when_reporting_per_agent_then_occupancy_and_none_row(
    crm_client, crm_service, crm_actors
):
    mine, _ = await _seed(crm_service, crm_actors)
    resp = await crm_client.get(
        f"/api/reports/agents?from=2026-03-02&to=2026-03-02&campaign_id={mine.id}",
        headers=crm_actors["manager"].headers)
    rows = {r["label"]: r for r in (await resp.json())["rows"]}
    assert set(rows) == {"agent", "(none)"}
    agent = rows["agent"]
    assert (agent["calls"], agent["sales"], agent["talk_seconds"]) == (2, 1, 80.0)
    # talk + wrap = 95 s over the span from the first dial to the last hang-up (180 s)
    assert agent["occupancy"] == round(95 / 180, 4)


async def test_given_csv_format_when_reporting_then_text_csv_with_header_and_same_data(
    crm_client, crm_service, crm_actors
):
    await _seed(crm_service, crm_actors)
    q = "from=2026-03-01&to=2026-03-03"
    as_json = await (await crm_client.get(f"/api/reports/campaigns?{q}",
                                          headers=crm_actors["admin"].headers)).json()
    resp = await crm_client.get(f"/api/reports/campaigns?{q}&format=csv",
                                headers=crm_actors["admin"].headers)
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(await resp.text())))
    assert tuple(table[0]) == CSV_COLUMNS
    assert [row[1] for row in table[1:]] == [r["label"] for r in as_json["rows"]]
    assert [int(row[2]) for row in table[1:]] == [r["calls"] for r in as_json["rows"]]
    assert table[1][-1] == "not_interested:1;sale:2"


@pytest.mark.parametrize("query, field", [
    ("from=2026-03-05&to=2026-03-01", "to"),
    ("from=yesterday", "from"),
    ("format=xml", "format"),
    ("from=2024-01-01&to=2026-03-01", "to"),
    ("campaign_id=nope", "campaign_id"),
    ("from=0001-01-01&to=0001-01-02", "from"),
    ("to=0001-01-01", "to"),
])
async def test_given_bad_query_when_reporting_then_400_naming_the_field(
    crm_client, crm_actors, query, field
):
    resp = await crm_client.get(f"/api/reports/campaigns?{query}",
                                headers=crm_actors["admin"].headers)
    assert resp.status == 400
    assert (await resp.json())["details"]["field"] == field


async def test_given_agent_or_other_manager_when_reporting_then_refused(
    crm_client, crm_service, crm_actors
):
    _, other = await _seed(crm_service, crm_actors)
    agent = await crm_client.get("/api/reports/days", headers=crm_actors["agent"].headers)
    assert agent.status == 403
    foreign = await crm_client.get(f"/api/reports/days?campaign_id={other.id}",
                                   headers=crm_actors["manager"].headers)
    assert foreign.status == 403
