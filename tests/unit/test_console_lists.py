"""The console's list tools through the API: multipart CSV import, penetration, recycling;
and the dialing settings service (validation, before/after audit)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
import sqlalchemy as sa

from crm.db.engine import make_sessionmaker
from crm.db.models import Call
from crm.db.models_ops import AuditLog, Lead
from crm.errors import InvalidInputError
from crm.testing import CRM_T0

CSV = "姓名,手机\n张三,13800138000\n李四,13800138011\n坏号,12\n张三,13800138000\n"


def _form(text: str, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", text.encode(), filename="leads.csv", content_type="text/csv")
    return form


def _text_only(**fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value, content_type="text/plain")  # forces multipart
    return form


async def _campaign(crm_service, crm_actors, name="spring"):
    return await crm_service.campaigns.create(
        {"name": name, "manager_id": crm_actors["manager"].user_id})


async def test_given_multipart_csv_when_importing_then_per_row_report(
    crm_client, crm_service, crm_actors
):
    c = await _campaign(crm_service, crm_actors)
    mapping = '{"name": "姓名", "phone": "手机"}'
    resp = await crm_client.post(f"/api/campaigns/{c.id}/leads/import",
                                 data=_form(CSV, mapping=mapping),
                                 headers=crm_actors["manager"].headers)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert [r["status"] for r in report["rows"]] == ["created", "created", "rejected",
                                                    "rejected"]
    assert report["summary"]["created"] == 2 and report["error"] is None
    page = await crm_service.campaigns.list_leads(campaign_id=c.id)
    assert page.total == 2


@pytest.mark.parametrize("form, field", [
    (lambda: _form(CSV, colour="red"), "colour"),
    (lambda: _form(CSV, format="xml"), "format"),
    (lambda: _text_only(mapping="{}"), "file"),
])
async def test_given_bad_multipart_when_importing_then_400_and_nothing_written(
    crm_client, crm_service, crm_actors, form, field
):
    c = await _campaign(crm_service, crm_actors)
    resp = await crm_client.post(f"/api/campaigns/{c.id}/leads/import", data=form(),
                                 headers=crm_actors["manager"].headers)
    assert resp.status == 400
    assert (await resp.json())["details"]["field"] == field
    assert (await crm_service.campaigns.list_leads(campaign_id=c.id)).total == 0


async def test_given_broken_multipart_body_when_importing_then_400(
    crm_client, crm_service, crm_actors
):
    c = await _campaign(crm_service, crm_actors)
    resp = await crm_client.post(
        f"/api/campaigns/{c.id}/leads/import", data=b"--zz\r\ngarbage",
        headers={**crm_actors["manager"].headers,
                 "Content-Type": "multipart/form-data; boundary=yy"})
    assert resp.status == 400


async def _leads(crm_service, campaign_id):
    async with make_sessionmaker(crm_service.engine)() as s:
        rows = (await s.scalars(sa.select(Lead).where(Lead.campaign_id == campaign_id))).all()
    return {r.phone_e164: r for r in rows}


async def test_given_leads_in_every_state_when_penetration_then_remaining_by_reason(
    crm_client, crm_service, crm_actors
):
    c = await _campaign(crm_service, crm_actors)
    numbers = ["1380013800" + str(i) for i in range(7)]
    body = "phone,timezone\n" + "".join(
        f"{n},{'America/New_York' if i == 4 else ''}\n" for i, n in enumerate(numbers))
    resp = await crm_client.post(f"/api/campaigns/{c.id}/leads/import", data=body.encode(),
                                 headers={**crm_actors["manager"].headers,
                                          "Content-Type": "text/csv"})
    assert resp.status == 200, await resp.text()
    leads = await _leads(crm_service, c.id)
    e164 = sorted(leads)
    sessions = make_sessionmaker(crm_service.engine)
    async with sessions.begin() as s:
        def upd(i, **values):
            return sa.update(Lead).where(Lead.phone_e164 == e164[i]).values(**values)
        await s.execute(upd(0, status="done", attempts=1))
        await s.execute(upd(1, status="exhausted", attempts=5, last_outcome="no_answer"))
        await s.execute(upd(2, status="retry", attempts=1, last_outcome="busy",
                            next_attempt_at=CRM_T0 + timedelta(hours=2)))
        await s.execute(upd(5, locked_by="w", locked_until=CRM_T0 + timedelta(minutes=5)))
        s.add(Call(call_id="k0", campaign_id=c.id, lead_id=leads[e164[0]].id, state="ended",
                   originated_at=CRM_T0, bridged_at=CRM_T0, outcome="answered"))
    await crm_service.dnc.add(e164[3])
    resp = await crm_client.get(f"/api/campaigns/{c.id}/penetration",
                                headers=crm_actors["manager"].headers)
    assert resp.status == 200
    p = await resp.json()
    assert (p["total"], p["dialed"], p["contacted"], p["done"], p["remaining"]) == (7, 3, 1, 1, 6)
    # 11:00 in Shanghai is 22:00 in New York: outside the 09:00-21:00 window there
    assert p["remaining_by_reason"] == {"dnc": 1, "attempts_exhausted": 1, "nurture": 0,
                                        "scheduled_later": 1,
                                        "outside_window": 1, "in_progress": 1, "eligible": 1}


async def test_given_exhausted_leads_when_recycling_then_dialable_and_audited(
    crm_client, crm_service, crm_actors
):
    c = await _campaign(crm_service, crm_actors)
    body = "phone\n13800138000\n13800138001\n13800138002\n"
    await crm_client.post(f"/api/campaigns/{c.id}/leads/import", data=body.encode(),
                          headers={**crm_actors["manager"].headers, "Content-Type": "text/csv"})
    e164 = sorted(await _leads(crm_service, c.id))
    async with make_sessionmaker(crm_service.engine).begin() as s:
        for number, outcome, status in ((e164[0], "no_answer", "exhausted"),
                                        (e164[1], "busy", "exhausted"),
                                        (e164[2], "answered", "done")):
            await s.execute(sa.update(Lead).where(Lead.phone_e164 == number).values(
                status=status, attempts=5, last_outcome=outcome))
    bad = await crm_client.post(f"/api/campaigns/{c.id}/recycle", json={"outcomes": ["sale"]},
                                headers=crm_actors["manager"].headers)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "outcomes"
    agent = await crm_client.post(f"/api/campaigns/{c.id}/recycle",
                                  json={"outcomes": ["no_answer"]},
                                  headers=crm_actors["agent"].headers)
    assert agent.status == 403
    resp = await crm_client.post(f"/api/campaigns/{c.id}/recycle",
                                 json={"outcomes": ["no_answer"]},
                                 headers=crm_actors["manager"].headers)
    assert (await resp.json())["recycled"] == 1
    leads = await _leads(crm_service, c.id)
    assert (leads[e164[0]].status, leads[e164[0]].attempts) == ("retry", 0)
    assert leads[e164[1]].status == "exhausted" and leads[e164[2]].status == "done"
    async with make_sessionmaker(crm_service.engine)() as s:
        entry = await s.scalar(sa.select(AuditLog).where(
            AuditLog.action == "campaign.leads_recycled"))
    assert entry is not None and entry.details == {"outcomes": ["no_answer"], "leads": 1}


async def test_given_settings_change_when_updating_then_before_after_audited(
    crm_service, crm_actors
):
    c = await _campaign(crm_service, crm_actors)
    actor = crm_actors["manager"].user_id
    first = await crm_service.dialing.get(c.id)
    assert first["dialing"]["mode"] == "progressive" and first["dialing"]["record"] is True
    result = await crm_service.dialing.update(
        c.id, {"window_start": "10:00", "retry_busy_minutes": 20},
        {"mode": "predictive", "abandon_target": 0.02, "record": False}, actor_id=actor)
    assert result["changed"] == ["abandon_target", "mode", "record", "retry_busy_minutes",
                                 "window_start"]
    again = await crm_service.dialing.get(c.id)
    assert again["dialing"]["mode"] == "predictive"
    assert again["campaign"]["window_start"] == "10:00"
    async with make_sessionmaker(crm_service.engine)() as s:
        entry = await s.scalar(sa.select(AuditLog).where(
            AuditLog.action == "campaign.settings_changed"))
    assert entry.details["before"]["mode"] == "progressive"
    assert entry.details["after"]["mode"] == "predictive"
    assert entry.details["before"]["window_start"] == "09:00"
    assert entry.actor_id == actor


@pytest.mark.parametrize("campaign, dialing, field", [
    ({}, {"ring_timeout_s": 3}, "ring_timeout_s"),
    ({}, {"channel_template": "PJSIP/trunk"}, "channel_template"),
    ({}, {"abandon_target": 0.5}, "abandon_target"),
    ({}, {"mode": "turbo"}, "mode"),
    ({}, {"caller_id": "call me"}, "caller_id"),
    ({}, {"caller_id": '"Bank" <110>'}, "caller_id"),
    ({}, {"channel_template": "Local/{0}@sim-pstn"}, "channel_template"),
    ({}, {"safe_harbour": "dialcrm/x"}, "safe_harbour"),
    ({}, {"abandon_window": "7d"}, "abandon_window"),
    ({"timezone": "Mars/Olympus"}, {}, "timezone"),
    ({"window_start": "21:00", "window_end": "21:00"}, {}, "window_end"),
    ({"max_retries_busy": 500}, {}, "max_retries_busy"),
])
async def test_given_bad_value_when_updating_settings_then_field_named_and_nothing_written(
    crm_service, crm_actors, campaign, dialing, field
):
    c = await _campaign(crm_service, crm_actors)
    with pytest.raises(InvalidInputError) as caught:
        await crm_service.dialing.update(c.id, campaign, {"record": False, **dialing})
    assert caught.value.details["field"] == field
    assert (await crm_service.dialing.get(c.id))["dialing"]["record"] is True
