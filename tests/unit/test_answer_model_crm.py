"""The answer model in the CRM (issue 5): history rows from the CRM's records, training and the
registry, retrain-if-due, ``p_answer`` on claimed leads (in-process and over HTTP), best-hour
retries in the lead's own zone, and /api/models/answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ari_app.adapters.crm_http import HttpCrm
from ari_app.adapters.crm_local import LocalCrm
from crm.domain.enums import AttemptOutcome
from crm.ports import FixedClock
from crm.service import CrmService
from crm.services.answer_history import LeadFacts, prospective_row, region_of
from crm.synth.answers import AFTER_HISTORY as AFTER
from crm.synth.answers import CN, US, Rows, add_lead, seed_history, write
from predictive.models.answer_model import MIN_TRAIN_ROWS
from tests.helpers.dialer_fakes import until


def at_local(zone: str, hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 9, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def _campaign(service: CrmService, name: str, **values: object) -> uuid.UUID:
    return (await service.campaigns.create({"name": name, **values})).id


async def _import(service: CrmService, campaign_id: uuid.UUID, phones: list[str]) -> None:
    async for r in service.import_leads(campaign_id, [{"phone": p, "name": p} for p in phones]):
        assert r.ok if hasattr(r, "ok") else True


async def _trained(service: CrmService, clock: FixedClock) -> str:
    clock.current = AFTER
    history = await _campaign(service, "history")
    assert await seed_history(service, history) >= MIN_TRAIN_ROWS
    run = await service.answer_models.retrain()
    assert run["result"].startswith("trained answer-"), run
    return run["source"]


# --- the adapter: CRM records -> CallHistoryRow ------------------------------------------------
async def test_given_crm_calls_when_loading_history_then_rows_in_lead_zone_with_prior_attempts(
        crm_service: CrmService) -> None:
    camp = await _campaign(crm_service, "rows")
    rows = Rows([], [], [], [])
    created = datetime(2026, 9, 1, tzinfo=UTC)
    us = add_lead(rows, camp, "+12127360001", "unknown", created, attempts=3)
    cn = add_lead(rows, camp, "+8613900000001", "mobile", created, attempts=1)
    times = [at_local(US, 10, day=2), at_local(US, 19, 30, day=3), at_local(US, 20, day=3),
             at_local(US, 11, day=4)]
    outcomes = ["busy", "abandoned", "invalid_number", None]  # None: a call still running
    for n, (t, o) in enumerate(zip(times, outcomes, strict=True)):
        rows.calls.append({"call_id": f"u{n}", "lead_id": us, "campaign_id": camp,
                           "state": "ended" if o else "ringing", "originated_at": t,
                           "outcome": o, "event_count": 1, "updated_at": t,
                           "talk_seconds": None, "disposition": None})
    rows.calls.append({"call_id": "c0", "lead_id": cn, "campaign_id": camp, "state": "ended",
                       "originated_at": at_local(CN, 9, 15, day=2), "outcome": "answered",
                       "event_count": 1, "updated_at": at_local(CN, 9, 15, day=2),
                       "talk_seconds": 42.0, "disposition": "sale"})
    await write(crm_service, rows)

    history = await crm_service.answer_models.history()

    by_lead: dict[str, list] = {}
    for r in history:
        by_lead.setdefault(r.lead_id, []).append(r)
    u = by_lead[str(us)]
    assert [(r.local_hour, r.local_weekday) for r in u] == [(10, 2), (19, 3), (20, 3)]
    assert [r.attempt_no for r in u] == [0, 1, 2]
    assert [r.outcome for r in u] == ["busy", "live", "failed"]
    assert [r.last_outcome for r in u] == [None, "busy", "live"]
    assert u[0].hours_since_last is None
    assert u[1].hours_since_last == pytest.approx(33.5)
    assert u[2].hours_since_last == pytest.approx(0.5)
    assert {(r.number_type, r.region, r.list_id) for r in u} == {("unknown", "US", str(camp))}
    assert u[0].lead_age_days == pytest.approx(
        (times[0] - created).total_seconds() / 86400)
    [c] = by_lead[str(cn)]
    assert (c.local_hour, c.number_type, c.region, c.outcome, c.talk_s, c.disposition) == (
        9, "mobile", "CN", "live", 42.0, "sale")
    assert [r.attempted_at for r in history] == sorted(r.attempted_at for r in history)


# --- training, the registry, retrain-if-due, the API ----------------------------------------
async def test_given_thin_history_when_status_then_prior_only_and_retrain_declines(
        crm_client, crm_service: CrmService, crm_actors, crm_clock: FixedClock) -> None:
    crm_clock.current = AFTER
    camp = await _campaign(crm_service, "thin")
    n = await seed_history(crm_service, camp, n_leads=50, attempts=4)
    run = await crm_service.answer_models.retrain(force=True)
    assert run["result"] == f"too little history to train ({n}/{MIN_TRAIN_ROWS} rows)"
    resp = await crm_client.get("/api/models/answer", headers=crm_actors["manager"].headers)
    body = await resp.json()
    assert resp.status == 200
    assert body["source"] == "prior" and body["rows"] == n and body["versions"] == []
    assert body["message"] == f"prior only ({n} rows < {MIN_TRAIN_ROWS})"


async def test_given_crm_history_when_retrained_then_versioned_with_metrics_and_kept_until_due(
        crm_client, crm_service: CrmService, crm_actors, crm_clock: FixedClock,
        crm_settings) -> None:
    version = await _trained(crm_service, crm_clock)
    assert (crm_settings.model_dir / version / "card.json").exists()
    resp = await crm_client.get("/api/models/answer", headers=crm_actors["manager"].headers)
    body = await resp.json()
    assert body["source"] == "model" and body["version"] == version
    assert body["rows"] >= MIN_TRAIN_ROWS and body["n_train"] > 1000
    assert 0 < body["brier"] < body["brier_base_rate"]  # the hour effect is learnt
    assert body["log_loss"] > 0 and body["trained_at"].startswith("2026-09-25")
    assert sum(b["n"] for b in body["reliability"]) == body["n_test"]
    # not due: same history, an hour later
    crm_clock.advance(timedelta(hours=1))
    kept = await crm_service.answer_models.retrain()
    assert kept["result"].startswith(f"kept {version}")
    # due: over 25 % new rows since the version was trained
    camp2 = await _campaign(crm_service, "more")
    await seed_history(crm_service, camp2, n_leads=300, attempts=4, first_index=5000,
                       start=AFTER + timedelta(minutes=30), days=1)
    crm_clock.advance(timedelta(days=2))
    again = await crm_client.post("/api/models/answer/retrain", json={},
                                  headers=crm_actors["admin"].headers)
    new = (await again.json())["source"]
    assert again.status == 200 and new != version and new.startswith("answer-")
    assert crm_service.answer_models.registry.versions() == sorted([version, new])
    old = await crm_client.get(f"/api/models/answer/versions/{version}",
                               headers=crm_actors["manager"].headers)
    assert old.status == 200 and (await old.json())["version"] == version


async def test_given_roles_and_bad_input_when_calling_model_api_then_403_404_400(
        crm_client, crm_service: CrmService, crm_actors) -> None:
    agent, manager = crm_actors["agent"].headers, crm_actors["manager"].headers
    for path in ("/api/models/answer", f"/api/leads/{uuid.uuid4()}/best-time"):
        assert (await crm_client.get(path, headers=agent)).status == 403
    assert (await crm_client.post("/api/models/answer/retrain", json={},
                                  headers=agent)).status == 403
    missing = await crm_client.get("/api/models/answer/versions/answer-20260101000000-deadbeef",
                                   headers=manager)
    assert missing.status == 404
    bad = await crm_client.get("/api/models/answer/versions/..%2Fetc", headers=manager)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "version"
    no_lead = await crm_client.get(f"/api/leads/{uuid.uuid4()}/best-time", headers=manager)
    assert no_lead.status == 404
    bad_id = await crm_client.get("/api/leads/nope/best-time", headers=manager)
    assert bad_id.status == 400 and (await bad_id.json())["details"]["field"] == "lead_id"
    bad_body = await crm_client.post("/api/models/answer/retrain", json={"force": "yes"},
                                     headers=manager)
    assert bad_body.status == 400 and "force" in str((await bad_body.json())["details"])


# --- scoring at claim -------------------------------------------------------------------------
async def test_given_trained_model_when_claiming_then_each_lead_scored_for_its_local_hour(
        crm_service: CrmService, crm_clock: FixedClock) -> None:
    version = await _trained(crm_service, crm_clock)
    camp = await _campaign(crm_service, "dial")
    await _import(crm_service, camp, [f"+86137000000{i:02d}" for i in range(20)])
    crm_clock.current = at_local(CN, 19, 30)
    evening = await crm_service.claim_leads(camp, "w1", 20)
    assert len(evening) == 20 and {v.p_answer_source for v in evening} == {version}
    state = await crm_service.answer_models.state()
    v = evening[0]
    assert v.created_at is not None
    row = prospective_row(LeadFacts(str(v.id), str(camp), CN, "mobile", region_of(v.phone_e164),
                                    v.created_at), crm_clock.current, 0, None, None)
    assert v.p_answer == pytest.approx(state.score([row])[0])
    await crm_service.unlock_leads([v.id for v in evening], "w1")
    crm_clock.current = at_local(CN, 10, 30)
    morning = await crm_service.claim_leads(camp, "w1", 20)
    local = LocalCrm(crm_service)
    await crm_service.unlock_leads([v.id for v in morning], "w1")
    via_port = await local.claim(str(camp), "w2", 20)
    mean = lambda vs: sum(v.p_answer for v in vs) / len(vs)  # noqa: E731
    assert mean(evening) > mean(morning) + 0.2
    assert [x.p_answer for x in via_port] == pytest.approx([v.p_answer for v in morning])


async def test_given_no_model_when_claiming_then_prior_probability_and_source(
        crm_service: CrmService, crm_clock: FixedClock) -> None:
    crm_clock.current = at_local(CN, 19, 30)
    camp = await _campaign(crm_service, "fresh")
    await _import(crm_service, camp, ["+8613700000001"])
    [v] = await crm_service.claim_leads(camp, "w1", 5)
    prior = (await crm_service.answer_models.state()).scorer.prior
    assert v.p_answer_source == "prior" and v.p_answer == pytest.approx(prior.mean(str(camp), 19))


async def test_given_http_hopper_when_claiming_then_p_answer_in_json_and_dialer_lead(
        crm_client, crm_service: CrmService, crm_actors, crm_clock: FixedClock) -> None:
    version = await _trained(crm_service, crm_clock)
    camp = await _campaign(crm_service, "remote")
    await _import(crm_service, camp, [f"+86137000001{i:02d}" for i in range(6)])
    crm_clock.current = at_local(CN, 20, 15)
    resp = await crm_client.post(f"/api/campaigns/{camp}/hopper/claim",
                                 json={"worker": "w1", "limit": 3},
                                 headers=crm_actors["dialer"].headers)
    items = (await resp.json())["items"]
    assert resp.status == 200 and len(items) == 3
    assert all(isinstance(i["p_answer"], float) and i["p_answer_source"] == version
               for i in items)
    http = HttpCrm(str(crm_client.make_url("")), crm_actors["dialer"].token)
    try:
        leads = await http.claim(str(camp), "w2", 3)
    finally:
        await http.close()
    state = await crm_service.answer_models.state()
    assert len(leads) == 3
    for lead in leads:
        row = prospective_row(LeadFacts(lead.lead_id, str(camp), CN, "mobile", "CN",
                                        await _created(crm_service, lead.lead_id)),
                              crm_clock.current, 0, None, None)
        assert lead.p_answer == pytest.approx(state.score([row])[0])
    assert min(i["p_answer"] for i in items) > 0.3  # 20 h local: a high hour


async def _created(service: CrmService, lead_id: str) -> datetime:
    from crm.db.models_ops import Lead

    async with service.engine.connect() as conn:
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession(bind=conn) as s:
            lead = await s.get(Lead, uuid.UUID(lead_id))
            assert lead is not None
            return lead.created_at


# --- best time to call ----------------------------------------------------------------------
@pytest.mark.parametrize(("zone", "phone"), [(CN, "+8613800138000"), (US, "+12127360100")])
async def test_given_no_answer_in_low_hour_when_scheduling_then_best_hour_of_own_zone(
        crm_client, crm_service: CrmService, crm_actors, crm_clock: FixedClock, zone: str,
        phone: str) -> None:
    version = await _trained(crm_service, crm_clock)
    camp = await _campaign(crm_service, "retry", retry_no_answer_minutes=60)
    await _import(crm_service, camp, [phone])
    crm_clock.current = now = at_local(zone, 10, 5)
    [lead] = await crm_service.claim_leads(camp, "w1", 1)
    after = await crm_service.record_attempt(lead.id, AttemptOutcome.NO_ANSWER, worker="w1")
    assert after.next_attempt_at is not None
    local = after.next_attempt_at.astimezone(ZoneInfo(zone))
    assert after.next_attempt_at >= now + timedelta(minutes=60)
    assert local.hour in (19, 20)  # the high hours of the lead's own zone, not the CRM's
    assert after.next_attempt_at < now + timedelta(days=3)
    resp = await crm_client.get(f"/api/leads/{lead.id}/best-time",
                                headers=crm_actors["manager"].headers)
    [entry] = (await resp.json())["items"]
    assert entry["source"] == version and entry["outcome"] == "no_answer"
    assert entry["scheduled_at"] == after.next_attempt_at.isoformat()
    assert entry["retry_delay_until"] == (now + timedelta(minutes=60)).isoformat()
    assert entry["p_answer"] > 0.3 and "best slot" in entry["reason"]


async def test_given_retry_delay_into_best_hours_when_scheduling_then_never_earlier(
        crm_service: CrmService, crm_clock: FixedClock) -> None:
    await _trained(crm_service, crm_clock)
    camp = await _campaign(crm_service, "late", retry_busy_minutes=45)
    await _import(crm_service, camp, ["+8613800138001"])
    crm_clock.current = now = at_local(CN, 19, 20)
    [lead] = await crm_service.claim_leads(camp, "w1", 1)
    after = await crm_service.record_attempt(lead.id, AttemptOutcome.BUSY, worker="w1")
    assert after.next_attempt_at is not None
    assert after.next_attempt_at >= now + timedelta(minutes=45)  # the delay holds
    assert after.next_attempt_at.astimezone(ZoneInfo(CN)).hour in (19, 20)


async def test_given_no_history_when_scheduling_then_retry_delay_kept_and_nothing_logged(
        crm_service: CrmService, crm_clock: FixedClock) -> None:
    camp = await _campaign(crm_service, "plain", retry_machine_minutes=120)
    await _import(crm_service, camp, ["+8613800138002"])
    crm_clock.current = now = at_local(CN, 10, 5)
    [lead] = await crm_service.claim_leads(camp, "w1", 1)
    after = await crm_service.record_attempt(lead.id, AttemptOutcome.MACHINE, worker="w1")
    assert after.next_attempt_at == now + timedelta(minutes=120)
    assert await crm_service.answer_models.best_time_log(lead.id) == []


# --- the periodic job in the CRM server -------------------------------------------------------
async def test_given_server_with_retrain_interval_when_history_suffices_then_job_trains(
        crm_service: CrmService, crm_settings, crm_clock: FixedClock) -> None:
    import dataclasses

    from aiohttp.test_utils import TestServer

    from crm.app import create_crm_app

    crm_clock.current = AFTER
    await seed_history(crm_service, await _campaign(crm_service, "job"))
    settings = dataclasses.replace(crm_settings, model_retrain_seconds=1)
    server = TestServer(create_crm_app(settings, service=crm_service), host="127.0.0.1")
    await server.start_server()
    try:
        models = crm_service.answer_models
        await until(lambda: models.registry.versions(), timeout=120)
        [version] = models.registry.versions()
        await until(lambda: (models.last_run or {}).get("source") == version, timeout=60)
        assert (await crm_service.answer_models.state()).source == version
    finally:
        await server.close()


# --- the dialer on another machine dials with the model's probabilities ----------------------
async def test_given_remote_dialer_when_it_places_a_call_then_attempt_carries_model_p(
        crm_service: CrmService, crm_settings, crm_actors, crm_clock: FixedClock,
        tmp_path) -> None:
    from aiohttp.test_utils import TestServer

    from ari_app.ari import EventRouter, Reconnected
    from ari_app.dialer.bus import EventBus
    from ari_app.dialer.engine import Dialer
    from ari_app.dialer.model import CampaignConfig, DialMode
    from ari_app.dialer.store import DialerStore
    from crm.app import create_crm_app
    from tests.helpers.dialer_fakes import Clock, FakeControl

    version = await _trained(crm_service, crm_clock)
    camp = await _campaign(crm_service, "remote-dial")
    await _import(crm_service, camp, ["+8613700000777"])
    crm_clock.current = at_local(CN, 19, 40)
    server = TestServer(create_crm_app(crm_settings, service=crm_service), host="127.0.0.1")
    await server.start_server()
    http = HttpCrm(str(server.make_url("")), crm_actors["dialer"].token, timeout=5)
    control, store = FakeControl(), DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    dialer = Dialer(control, store, http, http, EventBus(), Clock(), worker="remote-1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    try:
        await dialer.start()
        await dialer.on_connected(Reconnected(0))
        await dialer.start_campaign(CampaignConfig(str(camp), mode=DialMode.PROGRESSIVE))
        await dialer.login("a1", "1001", str(camp))
        await until(lambda: len(control.verbs("originate")) == 2, timeout=10)
        attempt = dialer.calls.calls[control.verbs("originate")[1][1]]
        state = await crm_service.answer_models.state()
        assert state.source == version
        lead = await _created(crm_service, attempt.lead_id)
        row = prospective_row(LeadFacts(attempt.lead_id, str(camp), CN, "mobile", "CN", lead),
                              crm_clock.current, 0, None, None)
        assert attempt.p_answer == pytest.approx(state.score([row])[0])
        assert attempt.p_answer > 0.3  # 19:40 in Shanghai: the high hours, not the 0.3 default
    finally:
        await dialer.stop()
        await http.close()
        await server.close()
        await store.close()


async def test_given_broken_newest_version_when_refreshing_then_hopper_keeps_scoring(
        crm_client, crm_service: CrmService, crm_actors, crm_clock: FixedClock,
        crm_settings) -> None:
    version = await _trained(crm_service, crm_clock)
    broken = crm_settings.model_dir / "answer-29990101000000-broken00"
    broken.mkdir()
    (broken / "card.json").write_text("{}")
    (broken / "model.json").write_text("not a model")
    await crm_service.answer_models.refresh()
    camp = await _campaign(crm_service, "after-break")
    await _import(crm_service, camp, ["+8613700000888"])
    crm_clock.current = at_local(CN, 19, 30)
    [v] = await crm_service.claim_leads(camp, "w1", 1)
    assert v.p_answer_source == version and v.p_answer is not None
    body = await (await crm_client.get("/api/models/answer",
                                       headers=crm_actors["admin"].headers)).json()
    assert body["version"] == version and broken.name in body["load_error"]
