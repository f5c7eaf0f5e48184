"""Data-subject rights: per-customer export and erasure (SQLite, and PostgreSQL when
CRM_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crm.db.engine import metadata
from crm.db.models import Call, CallEventRow, Recording
from crm.db.models_ops import AuditLog, DncEntry, Lead
from crm.service import CrmService
from crm.services.customers import ConflictPolicy, CustomerInput
from crm.services.work import TaskInput
from tests.helpers.audio import wav

NAME, OLD_NAME, EMAIL = "李雷", "李雷旧档", "li.lei@example.com"
NUMBERS = ["+8613800138021", "+8613912345678", "+8613700137002"]
SPOKEN = "太贵了，下周再联系"


@dataclass
class Person:
    customer_id: uuid.UUID
    merged_id: uuid.UUID
    campaign_id: uuid.UUID
    call_id: str
    recording: Recording
    recording_path: str


async def make_person(crm_client, crm_service: CrmService, crm_actors) -> Person:
    """A customer with everything a customer can have, one record merged into it, one call
    handled by ``agent`` with events, a recording, a transcript line, a note and a task."""
    customer, _ = await crm_service.customers.create(
        CustomerInput(name=NAME, phones=NUMBERS[:2], email=EMAIL, tags=["VIP", "回访"])
    )
    await crm_service.customers.create(  # audited with the name and numbers in its details
        CustomerInput(name=NAME, phones=[NUMBERS[0]]), policy=ConflictPolicy.MERGE
    )
    old, _ = await crm_service.customers.create(CustomerInput(name=OLD_NAME, phones=[NUMBERS[2]]))
    await crm_service.customers.merge(customer.id, [old.id])
    campaign = await crm_service.campaigns.create({"name": "privacy"})
    lead_id = uuid.uuid4()
    async with crm_service.engine.begin() as conn:
        await conn.execute(
            sa.insert(Lead).values(
                id=lead_id,
                campaign_id=campaign.id,
                customer_id=customer.id,
                phone_e164=NUMBERS[0],
                created_at=crm_service.clock.now(),
                updated_at=crm_service.clock.now(),
            )
        )
    call_id = "priv-call-1"
    base = {
        "call_id": call_id,
        "customer_id": str(customer.id),
        "campaign_id": str(campaign.id),
        "lead_id": str(lead_id),
        "agent_id": str(crm_actors["agent"].user_id),
        "number_dialed": NUMBERS[0],
    }
    for i, (kind, extra) in enumerate(
        [
            ("originated", {}),
            ("answered", {}),
            ("ended", {"outcome": "answered", "talk_seconds": 61.0, "disposition": "callback"}),
        ]
    ):
        resp = await crm_client.post(
            "/api/calls",
            json={
                **base,
                **extra,
                "event_id": f"pe-{i}",
                "type": kind,
                "occurred_at": f"2026-03-02T03:0{i}:00Z",
            },
            headers=crm_actors["dialer"].headers,
        )
        assert resp.status == 201
    rec = await crm_service.store_recording(call_id, wav())
    segments = metadata.tables["transcript_segments"]  # the speech slice's table
    async with crm_service.engine.begin() as conn:
        await conn.execute(
            sa.insert(segments).values(
                call_id=call_id,
                segment_id="s1",
                speaker="customer",
                start_s=1.0,
                end_s=3.0,
                text=SPOKEN,
                gap=False,
                concepts=[],
                received_at=crm_service.clock.now(),
            )
        )
    await crm_service.work.add_note(customer.id, f"{NAME} 想要报价", call_id=call_id)
    await crm_service.work.create_task(TaskInput(title=f"给{NAME}报价", customer_id=customer.id))
    path = (await crm_service.recordings.get(rec.id)).path
    return Person(customer.id, old.id, campaign.id, call_id, rec, path)


async def dump_database(service: CrmService) -> dict[str, str]:
    """Every table's rows as text (to look for personal data anywhere)."""
    out: dict[str, str] = {}
    async with service.engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = (await conn.execute(sa.select(table))).all()
            out[table.name] = json.dumps([list(r) for r in rows], default=str, ensure_ascii=False)
    return out


async def test_given_customer_when_manager_exports_then_everything_held_is_in_it(
    crm_client, crm_service, crm_actors
):
    p = await make_person(crm_client, crm_service, crm_actors)
    resp = await crm_client.get(
        f"/api/customers/{p.customer_id}/export", headers=crm_actors["manager"].headers
    )
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    doc = await resp.json()
    assert doc["customer"]["name"] == NAME and doc["customer"]["email"] == EMAIL
    assert [m["name"] for m in doc["merged_records"]] == [OLD_NAME]
    assert sorted(n["e164"] for n in doc["numbers"]) == sorted(NUMBERS)
    assert sorted(doc["tags"]) == sorted(["VIP", "回访"])
    assert [n["body"] for n in doc["notes"]] == [f"{NAME} 想要报价"]
    assert f"给{NAME}报价" in [t["title"] for t in doc["tasks"]]
    assert [lead["phone_e164"] for lead in doc["leads"]] == [NUMBERS[0]]
    (call,) = doc["calls"]
    assert call["call_id"] == p.call_id and call["talk_seconds"] == 61.0
    assert {e["type"] for e in call["events"]} >= {"originated", "answered", "ended"}
    (rec,) = doc["recordings"]
    assert rec["id"] == str(p.recording.id) and "path" not in rec and rec["encrypted"]
    assert [t["text"] for t in doc["transcripts"]] == [SPOKEN]
    assert doc["dnc"] == []
    async with crm_service.engine.connect() as conn:
        (entry,) = (
            await conn.execute(sa.select(AuditLog).where(AuditLog.action == "customer.exported"))
        ).all()
    assert entry.entity_id == str(p.customer_id) and NAME not in json.dumps(entry.details)
    for bad, status in (("nope", 400), (str(uuid.uuid4()), 404)):
        resp = await crm_client.get(
            f"/api/customers/{bad}/export", headers=crm_actors["admin"].headers
        )
        assert resp.status == status


async def test_given_customer_when_admin_erases_then_no_personal_data_left_and_stats_kept(
    crm_client, crm_service, crm_actors
):
    p = await make_person(crm_client, crm_service, crm_actors)
    admin = crm_actors["admin"]
    resp = await crm_client.post(
        f"/api/customers/{p.customer_id}/erase", json={}, headers=admin.headers
    )
    body = await resp.json()
    assert resp.status == 200 and body["erased"] is True
    counts = body["counts"]
    assert counts["recordings"] == 1 and counts["numbers"] == 3 and counts["customers"] == 2
    assert counts["leads"] == 1 and counts["dnc_added"] == 3 and counts["merged_records"] == 1
    assert counts["transcript_segments"] == 1

    for cid in (p.customer_id, p.merged_id):
        gone = await crm_client.get(f"/api/customers/{cid}", headers=admin.headers)
        assert gone.status == 404
    lookup = await crm_client.get(f"/api/numbers/{NUMBERS[0]}", headers=admin.headers)
    assert lookup.status == 404
    assert not Path(p.recording_path).exists()  # noqa: ASYNC240
    rec = await crm_service.recordings.get(p.recording.id)
    assert rec.purged_at is not None and rec.purge_reason == "erasure" and rec.path == ""
    url = await crm_client.post(f"/api/recordings/{rec.id}/url", headers=admin.headers)
    assert url.status == 410

    async with crm_service.engine.connect() as conn:
        call = (await conn.execute(sa.select(Call).where(Call.call_id == p.call_id))).one()
        dnc = (await conn.execute(sa.select(DncEntry))).all()
        events = (await conn.execute(sa.select(CallEventRow.payload))).scalars().all()
        erased = (
            await conn.execute(sa.select(AuditLog).where(AuditLog.action == "customer.erased"))
        ).one()
    assert (call.outcome, call.talk_seconds, call.disposition) == ("answered", 61.0, "callback")
    assert call.campaign_id == p.campaign_id and call.agent_id == crm_actors["agent"].user_id
    assert (call.customer_id, call.lead_id, call.number_dialed) == (None, None, None)
    assert all("number_dialed" not in e and "customer_id" not in e for e in events)
    assert sorted(d.e164 for d in dnc) == sorted(NUMBERS)
    assert {(d.scope, d.reason) for d in dnc} == {("*", "erasure request")}
    assert erased.actor_id == admin.user_id and erased.entity_id == str(p.customer_id)
    assert erased.details == counts

    tables = await dump_database(crm_service)
    for table, text in tables.items():
        for secret in (NAME, OLD_NAME, EMAIL, SPOKEN):
            assert secret not in text, (table, secret)
        if table != "dnc_entries":
            for number in NUMBERS:
                assert number not in text and number[3:] not in text, (table, number)
    assert await crm_service.is_dnc(NUMBERS[1])


async def test_given_delete_with_erase_and_no_dnc_when_called_then_erased_without_suppression(
    crm_client, crm_service, crm_actors
):
    p = await make_person(crm_client, crm_service, crm_actors)
    admin = crm_actors["admin"].headers
    url = f"/api/customers/{p.customer_id}"
    no_flag = await crm_client.delete(url, headers=admin)
    assert no_flag.status == 400 and (await no_flag.json())["details"]["field"] == "erase"
    manager = await crm_client.post(f"{url}/erase", json={}, headers=crm_actors["manager"].headers)
    assert manager.status == 403
    bad = await crm_client.post(f"{url}/erase", json={"add_to_dnc": "maybe"}, headers=admin)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "add_to_dnc"
    assert (await crm_client.get(url, headers=admin)).status == 200  # nothing half-done

    resp = await crm_client.delete(f"{url}?erase=true&add_to_dnc=false", headers=admin)
    assert resp.status == 200 and (await resp.json())["counts"]["dnc_added"] == 0
    assert (await crm_client.get(url, headers=admin)).status == 404
    again = await crm_client.delete(f"{url}?erase=true", headers=admin)
    assert again.status == 404
    tables = await dump_database(crm_service)
    assert not any(n in text for text in tables.values() for n in NUMBERS)


async def test_given_existing_dnc_entry_when_erasing_then_not_duplicated(
    crm_client, crm_service, crm_actors
):
    p = await make_person(crm_client, crm_service, crm_actors)
    await crm_service.dnc.add(NUMBERS[0], reason="asked on the phone")
    counts = await crm_service.privacy.erase(p.customer_id)
    assert counts["dnc_added"] == 2
    async with crm_service.engine.connect() as conn:
        reasons = sorted((await conn.execute(sa.select(DncEntry.reason))).scalars().all())
    assert reasons == ["asked on the phone", "erasure request", "erasure request"]


async def test_given_other_customer_when_one_is_erased_then_the_other_is_untouched(
    crm_client, crm_service, crm_actors
):
    p = await make_person(crm_client, crm_service, crm_actors)
    other, _ = await crm_service.customers.create(
        CustomerInput(name="韩梅梅", phones=["13800138033"], tags=["VIP"])
    )
    await crm_service.work.add_note(other.id, "keep me")
    await crm_service.privacy.erase(p.customer_id)
    summary: dict[str, Any] = await crm_service.customer_summary(other.id)
    assert summary["name"] == "韩梅梅" and summary["tags"] == ["VIP"]
    notes = await crm_service.work.list_notes(other.id)
    assert [n.body for n in notes.items] == ["keep me"]


async def test_given_openapi_document_when_read_then_privacy_and_recording_routes_are_in_it(
    crm_client,
):
    doc = await (await crm_client.get("/api/openapi.json")).json()
    paths = doc["paths"]
    expected = {
        "/api/customers/{customer_id}/export": "get",
        "/api/customers/{customer_id}/erase": "post",
        "/api/customers/{customer_id}": "delete",
        "/api/recordings/{recording_id}/url": "post",
        "/api/calls/{call_id}/recording": "get",
        "/recordings/{token}": "get",
        "/api/campaigns/{campaign_id}/retention": "put",
        "/api/admin/recordings/sweep": "post",
    }
    for path, method in expected.items():
        assert method in paths[path], (path, method)
    erase = paths["/api/customers/{customer_id}/erase"]["post"]
    assert erase["x-roles"] == ["admin"]
    assert "410" in paths["/recordings/{token}"]["get"]["responses"]
    delete = paths["/api/customers/{customer_id}"]["delete"]
    assert {p["name"] for p in delete["parameters"]} >= {"customer_id", "erase", "add_to_dnc"}
