"""The conversion model in the CRM: rows from the CRM's data, training on a synthetic CRM
history (SQLite, and PostgreSQL when configured), routes, nurture leads never claimed, the
route on claimed leads (in-process and over HTTP), the API and its roles."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from ari_app.adapters.crm_http import HttpCrm
from ari_app.adapters.crm_local import LocalCrm
from crm.db.models import Call, CustomerTag, Tag
from crm.db.models_conversion import CustomerRoute
from crm.db.models_ops import AuditLog
from crm.ports import FixedClock
from crm.service import CrmService
from crm.services.conversion_models import ConversionService
from crm.services.conversion_rows import NURTURE_TAG, customer_rows
from crm.services.customers import CustomerInput
from crm.synth.conversion import Synth, write_history
from crm.testing import CrmActor


@pytest.fixture
async def trained(crm_service: CrmService, crm_clock: FixedClock) -> Synth:
    synth = await write_history(crm_service, crm_clock.now())
    run = await crm_service.conversion.retrain(force=True)
    assert run.trained, run.why
    return synth


async def _routes(crm: CrmService) -> dict[uuid.UUID, CustomerRoute]:
    async with crm.engine.connect() as conn:
        rows = (await conn.execute(sa.select(CustomerRoute))).all()
    return {r.customer_id: r for r in rows}


async def test_given_calls_dispositions_tags_when_building_rows_then_customer_360(
    crm_service: CrmService, crm_clock: FixedClock,
) -> None:
    now = crm_clock.now()
    customer, _ = await crm_service.customers.create(
        CustomerInput(name="王芳", phones=["+8613900000001"]))
    base: dict[str, Any] = {"customer_id": customer.id, "state": "ended", "event_count": 1,
                            "bridged_at": None, "talk_seconds": None, "disposition": None,
                            "intent_score": None}
    rows = [
        {"originated_at": now - timedelta(days=40)},  # no answer
        {"originated_at": now - timedelta(days=35), "bridged_at": now - timedelta(days=35),
         "talk_seconds": 60.0, "disposition": "callback", "intent_score": 0.7},
        {"originated_at": now - timedelta(days=33), "bridged_at": now - timedelta(days=33),
         "talk_seconds": 120.0, "disposition": "sale"},
        {"originated_at": now - timedelta(days=5), "bridged_at": now - timedelta(days=5),
         "talk_seconds": 30.0, "disposition": "sale"},  # inside the label window
    ]
    async with crm_service.engine.begin() as conn:
        await conn.execute(sa.insert(Call), [{"call_id": f"c{i}", **base, **r}
                                             for i, r in enumerate(rows)])
        await conn.execute(sa.insert(Tag), [{"id": 7, "name": "VIP", "name_key": "vip"},
                                            {"id": 8, "name": NURTURE_TAG,
                                             "name_key": NURTURE_TAG}])
        await conn.execute(sa.insert(CustomerTag), [{"customer_id": customer.id, "tag_id": 7},
                                                    {"customer_id": customer.id, "tag_id": 8}])
    sessions = crm_service.conversion._sessions
    async with sessions() as s:
        (train,) = await customer_rows(s, now - timedelta(days=30), label_until=now)
        (score,) = await customer_rows(s, now)
    assert (train.calls, train.connects, train.total_talk_s, train.last_talk_s) == (
        3, 2, 180.0, 120.0)
    assert train.dispositions == {"callback": 1, "sale": 1} and train.purchases == 1
    assert train.intent_score == pytest.approx(0.7)
    assert train.days_since_last_contact == pytest.approx(3.0)
    assert train.tags == frozenset({"vip"})  # the routing's own tag is never a feature
    assert train.converted is True  # the sale 5 days ago is the label, not a feature
    assert (score.calls, score.purchases, score.last_talk_s, score.converted) == (
        4, 2, 30.0, None)


async def test_given_synthetic_crm_history_when_trained_then_calibrated_stored_and_routed(
    crm_service: CrmService, trained: Synth, crm_settings: Any, crm_clock: FixedClock,
) -> None:
    summary = await crm_service.conversion.summary()
    m = summary["metrics"]
    print(f"\nconversion on synthetic CRM history: n_test={m['n']} base={m['base_rate']:.3f} "
          f"Brier {m['brier']:.4f} (pooled {m['brier_base_rate']:.4f}) log-loss "
          f"{m['log_loss']:.4f} AUC {m['auc']:.3f} ECE {m['ece']:.3f}")
    assert m["brier"] < m["brier_base_rate"] - 0.005 and m["auc"] > 0.65
    assert m["reliability"] and summary["calibration"] in ("isotonic", "platt")
    assert "intent_score" in summary["features"] and "tag_vip" in summary["features"]
    routes = await _routes(crm_service)
    assert len(routes) == 1500
    shares = summary["shares"]
    assert abs(shares["senior"]["share"] - 0.2) < 0.03
    assert abs(shares["nurture"]["share"] - 0.2) < 0.03
    truth = trained.p_true
    mean = {r: np.mean([truth[c] for c, row in routes.items() if row.route == r])
            for r in ("senior", "standard", "nurture")}
    assert mean["senior"] > mean["standard"] > mean["nurture"]
    nurtured = {c for c, row in routes.items() if row.route == "nurture"}
    async with crm_service.engine.connect() as conn:
        tagged = set((await conn.scalars(
            sa.select(CustomerTag.customer_id).join(Tag, Tag.id == CustomerTag.tag_id)
            .where(Tag.name_key == NURTURE_TAG))).all())
    assert tagged == nurtured
    row = next(iter(routes[c] for c in nurtured))
    assert "automated nurturing" in row.reason and summary["version"] in row.reason
    # a fresh service reading the stored version predicts the same
    fresh = ConversionService(crm_service.conversion._sessions, crm_clock,
                              crm_settings.model_dir)
    rows = (await fresh.scoring_rows())[:50]
    loaded = fresh.current()
    assert loaded is not None and loaded[0].card.version == summary["version"]
    stored = [routes[uuid.UUID(r.customer_id)].p_convert for r in rows]
    assert loaded[0].predict(rows) == pytest.approx(stored, rel=1e-5)


async def test_given_nurture_customers_when_claiming_then_skipped_and_route_on_the_rest(
    crm_service: CrmService, trained: Synth,
) -> None:
    routes = await _routes(crm_service)
    views = [v for _ in range(3) for v in await crm_service.claim_leads(
        trained.campaign_id, "w1", 500)]
    assert len(views) == sum(1 for r in routes.values() if r.route != "nurture")
    for v in views:
        assert v.route == routes[v.customer_id].route != "nurture"
        assert v.p_convert == pytest.approx(routes[v.customer_id].p_convert)
    leads = await LocalCrm(crm_service).claim(str(trained.campaign_id), "w2", 5)
    assert leads == []  # all claimed by w1


async def test_given_dialer_over_http_when_claiming_then_route_and_p_convert_carried(
    crm_service: CrmService, trained: Synth, crm_client: Any, crm_actors: dict[str, CrmActor],
) -> None:
    http = HttpCrm(str(crm_client.make_url("")), crm_actors["dialer"].token, timeout=10)
    try:
        leads = await http.claim(str(trained.campaign_id), "remote", 50)
    finally:
        await http.close()
    routes = await _routes(crm_service)
    assert len(leads) == 50
    assert {lead.route for lead in leads} <= {"senior", "standard"}
    for lead in leads:
        row = routes[uuid.UUID(lead.customer_id)]
        assert lead.route == row.route and lead.p_convert == pytest.approx(row.p_convert)


async def test_given_manager_override_when_nurture_to_standard_then_claimable_untagged_audited(
    crm_service: CrmService, trained: Synth, crm_client: Any, crm_actors: dict[str, CrmActor],
) -> None:
    routes = await _routes(crm_service)
    cid = next(c for c, r in routes.items() if r.route == "nurture")
    path = f"/api/customers/{cid}/route"
    body = {"route": "standard", "reason": "asked for a call"}
    resp = await crm_client.put(path, json=body, headers=crm_actors["agent"].headers)
    assert resp.status == 403
    resp = await crm_client.put(path, json={"route": "vip"}, headers=crm_actors["manager"].headers)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "route"
    resp = await crm_client.put(f"/api/customers/{uuid.uuid4()}/route", json=body,
                                headers=crm_actors["manager"].headers)
    assert resp.status == 404
    resp = await crm_client.put(path, json=body, headers=crm_actors["manager"].headers)
    data = await resp.json()
    assert resp.status == 200 and data["route"] == "standard"
    assert data["model_route"] == "nurture" and data["override_reason"] == "asked for a call"
    # issue 17 finding 6: an agent no longer reads a customer of others' leads (was: agent)
    resp = await crm_client.get(path, headers=crm_actors["manager"].headers)
    assert (await resp.json())["route"] == "standard"
    pop = (await crm_service.customer_summary(cid))["conversion"]  # the agent's screen pop
    assert pop["route"] == "standard" and pop["overridden"] and 0 < pop["p_convert"] < 1
    claimed = [v for _ in range(3) for v in await crm_service.claim_leads(
        trained.campaign_id, "w1", 500)]
    assert cid in {v.customer_id for v in claimed}
    await crm_service.conversion.retrain()  # a rescore keeps the override
    assert (await _routes(crm_service))[cid].route == "standard"
    async with crm_service.engine.connect() as conn:
        tagged = (await conn.scalars(
            sa.select(CustomerTag.customer_id).join(Tag, Tag.id == CustomerTag.tag_id)
            .where(Tag.name_key == NURTURE_TAG, CustomerTag.customer_id == cid))).all()
        audited = (await conn.scalars(sa.select(AuditLog.action).where(
            AuditLog.entity_id == str(cid)))).all()
    assert tagged == [] and "customer.route_overridden" in audited
    resp = await crm_client.put(path, json={"route": None},
                                headers=crm_actors["manager"].headers)
    assert (await resp.json())["route"] == "nurture"  # back to the model's


async def test_given_api_when_no_model_then_says_so_and_after_retrain_metrics_and_shares(
    crm_service: CrmService, crm_client: Any, crm_actors: dict[str, CrmActor],
    crm_clock: FixedClock,
) -> None:
    path = "/api/models/conversion"
    assert (await crm_client.get(path, headers=crm_actors["agent"].headers)).status == 403
    resp = await crm_client.get(path, headers=crm_actors["manager"].headers)
    data = await resp.json()
    assert resp.status == 200 and data["version"] is None and data["status"] == "no model"
    resp = await crm_client.post(path + "/retrain", json={"force": "yes"},
                                 headers=crm_actors["manager"].headers)
    assert resp.status == 400
    resp = await crm_client.post(path + "/retrain", json={},
                                 headers=crm_actors["admin"].headers)
    data = await resp.json()
    assert data["trained"] is False and "too little history" in data["why"]
    await write_history(crm_service, crm_clock.now(), n=700)
    resp = await crm_client.post(path + "/retrain", json={},
                                 headers=crm_actors["manager"].headers)
    data = await resp.json()
    assert resp.status == 200 and data["trained"] and data["scored"] == 700
    model = data["model"]
    assert model["version"].startswith("conversion-") and model["n_train"] > 0
    assert {"brier", "log_loss", "auc", "reliability"} <= set(model["metrics"])
    assert set(model["shares"]) == {"senior", "standard", "nurture"}
    assert sum(v["customers"] for v in model["shares"].values()) == 700


async def test_given_trained_model_when_retrain_runs_again_then_kept_until_a_week_old(
    crm_service: CrmService, trained: Synth, crm_clock: FixedClock,
) -> None:
    first = (await crm_service.conversion.summary())["version"]
    run = await crm_service.conversion.retrain()
    assert not run.trained and run.version == first and run.scored == 1500
    crm_clock.advance(timedelta(days=8))
    run = await crm_service.conversion.retrain()
    assert run.trained and run.version != first
    assert crm_service.conversion.store.versions() == sorted([first, run.version])


async def test_given_seniority_api_when_set_then_listed_and_bad_input_named(
    crm_client: Any, crm_actors: dict[str, CrmActor], crm_service: CrmService,
) -> None:
    manager = crm_actors["manager"].headers
    resp = await crm_client.put("/api/agents/agent/seniority", json={"seniority": "senior"},
                                headers=crm_actors["agent"].headers)
    assert resp.status == 403
    resp = await crm_client.put("/api/agents/agent/seniority", json={"seniority": "guru"},
                                headers=manager)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "seniority"
    resp = await crm_client.put("/api/agents/nobody/seniority", json={"seniority": "senior"},
                                headers=manager)
    assert resp.status == 404
    resp = await crm_client.put("/api/agents/agent/seniority", json={"seniority": "senior"},
                                headers=manager)
    assert resp.status == 200
    items = (await (await crm_client.get("/api/agents/seniority", headers=manager)).json())
    by_name = {i["username"]: i["seniority"] for i in items["items"]}
    assert by_name["agent"] == "senior" and by_name["agent2"] == "standard"
    assert await crm_service.agent_skills.seniority("agent") == "senior"


async def test_given_nurtured_customers_when_penetration_then_counted_as_nurture_not_eligible(
    crm_service: CrmService, trained: Synth,
) -> None:
    routes = await _routes(crm_service)
    nurtured = sum(1 for r in routes.values() if r.route == "nurture")
    p = await crm_service.lists.penetration(trained.campaign_id)
    assert p["remaining_by_reason"]["nurture"] == nurtured > 0
    assert p["remaining_by_reason"]["eligible"] == 1500 - nurtured


async def test_given_scored_customer_when_exported_then_route_included_and_erasure_removes_it(
    crm_service: CrmService, trained: Synth,
) -> None:
    cid = trained.customers[0]
    doc = await crm_service.privacy.export(cid)
    (row,) = doc["conversion_routes"]
    assert row["customer_id"] == str(cid) and row["route"] in ("senior", "standard", "nurture")
    await crm_service.privacy.erase(cid)
    assert cid not in await _routes(crm_service)
