"""CRM use cases against a real database (SQLite; PostgreSQL when CRM_TEST_DATABASE_URL)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm.db.models import Call, CallEventRow, Note, PhoneNumber, Task
from crm.db.models_ops import AuditLog
from crm.domain.enums import AttemptOutcome, Language, LeadStatus, Role, TaskStatus
from crm.errors import LeadLockedError, NotFoundError, NumberConflictError
from crm.service import CrmService
from crm.services.customers import ConflictPolicy, CustomerChanges, CustomerInput
from crm.services.work import TaskInput


async def _count(svc: CrmService, model, *where) -> int:
    async with svc.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(model).where(*where)))


async def test_given_known_number_when_creating_with_merge_then_same_customer(crm_service):
    first, merged = await crm_service.customers.create(
        CustomerInput(name="张三", phones=["13800138000"], tags=["VIP"])
    )
    again, merged2 = await crm_service.customers.create(
        CustomerInput(
            name="Zhang San", phones=["+86 138 0013 8000", "010-65529988"], tags=["回访"]
        ),
        policy=ConflictPolicy.MERGE,
    )
    assert (merged, merged2, again.id) == (False, True, first.id)
    numbers = await crm_service.customers.numbers(first.id)
    assert {n.e164 for n in numbers} == {"+8613800138000", "+861065529988"}
    assert sorted((await crm_service.customers.tags_of([first.id]))[first.id]) == ["VIP", "回访"]


async def test_given_known_number_when_creating_with_report_then_conflict(crm_service):
    first, _ = await crm_service.customers.create(
        CustomerInput(name="李四", phones=["13900139000"])
    )
    with pytest.raises(NumberConflictError) as err:
        await crm_service.customers.create(CustomerInput(name="x", phones=["13900139000"]))
    assert err.value.owners == {"+8613900139000": str(first.id)}
    assert await _count(crm_service, PhoneNumber) == 1


async def test_given_mixed_names_when_searching_then_nfkc_casefold_and_stable_order(crm_service):
    for name, phone in (
        ("王五", "13700137000"),
        ("ａｌｉｃｅ Smith", "13700137001"),
        ("Bob", "13700137002"),
        ("alice Jones", "13700137003"),
        ("张三", "13700137004"),
    ):
        await crm_service.customers.create(CustomerInput(name=name, phones=[phone]))
    page = await crm_service.customers.search(q="ALICE")
    assert [c.name for c in page.items] == ["alice Jones", "ａｌｉｃｅ Smith"]
    everyone = await crm_service.customers.search(limit=2, offset=0)
    rest = await crm_service.customers.search(limit=10, offset=2)
    names = [c.name for c in [*everyone.items, *rest.items]]
    assert names == ["alice Jones", "ａｌｉｃｅ Smith", "Bob", "张三", "王五"]
    assert everyone.total == 5
    by_phone = await crm_service.customers.search(q="137 0013 7004")
    assert [c.name for c in by_phone.items] == ["张三"]


async def test_given_two_customers_when_merging_then_children_move_and_audit(crm_service):
    a, _ = await crm_service.customers.create(
        CustomerInput(name="A", phones=["13800000001"], tags=["t1"])
    )
    b, _ = await crm_service.customers.create(
        CustomerInput(name="B", phones=["13800000002"], tags=["t2"])
    )
    await crm_service.work.add_note(b.id, "老客户")
    await crm_service.work.create_task(TaskInput(title="报价", customer_id=b.id))
    await crm_service.ingest_call_event(
        {"event_id": "m1", "call_id": "cm", "type": "originated", "customer_id": str(b.id)}
    )
    merged = await crm_service.customers.merge(a.id, [b.id])
    assert merged.id == a.id
    assert await _count(crm_service, PhoneNumber, PhoneNumber.customer_id == a.id) == 2
    assert await _count(crm_service, Note, Note.customer_id == a.id) == 1
    assert await _count(crm_service, Task, Task.customer_id == a.id) == 1
    assert await _count(crm_service, Call, Call.customer_id == a.id) == 1
    assert sorted((await crm_service.customers.tags_of([a.id]))[a.id]) == ["t1", "t2"]
    assert (await crm_service.customers.get(b.id)).id == a.id  # tombstone follows
    assert await _count(crm_service, AuditLog, AuditLog.action == "customer.merged") == 1


async def test_given_duplicate_event_when_ingesting_then_one_row(crm_service):
    event = {
        "event_id": "ev-1",
        "call_id": "call-1",
        "type": "originated",
        "number_dialed": "13800138000",
        "occurred_at": "2026-03-02T03:00:00Z",
    }
    assert await crm_service.ingest_call_event(event) is True
    assert await crm_service.ingest_call_event(event) is False
    assert await _count(crm_service, CallEventRow) == 1


async def test_given_events_out_of_order_when_ingesting_then_call_complete(crm_service):
    customer, _ = await crm_service.customers.create(
        CustomerInput(name="C", phones=["13800138000"])
    )
    base = {"call_id": "call-2", "number_dialed": "13800138000"}
    await crm_service.ingest_call_event(
        {
            **base,
            "event_id": "3",
            "type": "ended",
            "occurred_at": "2026-03-02T03:05:00Z",
            "outcome": "answered",
            "intent_score": 0.8,
        }
    )
    await crm_service.ingest_call_event(
        {**base, "event_id": "1", "type": "originated", "occurred_at": "2026-03-02T03:00:00Z"}
    )
    await crm_service.ingest_call_event(
        {**base, "event_id": "2", "type": "answered", "occurred_at": "2026-03-02T03:01:00Z"}
    )
    call, events = await crm_service.calls.get("call-2")
    assert (call.state, call.customer_id, call.talk_seconds) == ("ended", customer.id, 240.0)
    assert call.intent_score == 0.8 and len(events) == 3
    assert (await crm_service.customers.get(customer.id)).last_call_time == call.originated_at


async def test_given_customer_history_when_summarising_then_pop_essentials(crm_service):
    c, _ = await crm_service.customers.create(
        CustomerInput(name="赵六", phones=["13800138000"], tags=["VIP"])
    )
    await crm_service.reference.add_script(
        name="vip", body="尊敬的客户", language=Language.ZH, tags=["vip"]
    )
    await crm_service.work.create_task(TaskInput(title="24小时内发报价", customer_id=c.id))
    await crm_service.ingest_call_event(
        {
            "event_id": "s1",
            "call_id": "cs",
            "type": "ended",
            "customer_id": str(c.id),
            "outcome": "no_answer",
        }
    )
    pop = await crm_service.customer_summary(str(c.id))
    assert pop["name"] == "赵六" and pop["tags"] == ["VIP"]
    assert pop["numbers"][0]["e164"] == "+8613800138000"
    assert pop["recent_contacts"][0]["outcome"] == "no_answer"
    assert pop["open_tasks"][0]["title"] == "24小时内发报价"
    assert pop["recommended_script"]["name"] == "vip"
    with pytest.raises(NotFoundError):
        await crm_service.customer_summary(uuid.uuid4())


async def test_given_a_burst_of_customers_when_summarised_at_once_then_each_as_summarised_alone(
    crm_service,
):
    """The burst read (one query set for many customers, many languages) says what the
    one-customer read says: merged customers by their survivor, unknown ids left out."""
    await crm_service.reference.add_script(
        name="vip", body="尊敬的客户", language=Language.ZH, tags=["vip"]
    )
    await crm_service.reference.add_script(
        name="vip-en", body="Dear customer", language=Language.EN, tags=["vip"]
    )
    ids = []
    for i in range(4):
        c, _ = await crm_service.customers.create(
            CustomerInput(name=f"客户{i}", phones=[f"1380013{i:04d}", f"1390013{i:04d}"],
                          tags=["VIP"] if i % 2 else [])
        )
        ids.append(c.id)
        for n in range(i + 1):
            await crm_service.work.create_task(TaskInput(title=f"任务{n}", customer_id=c.id))
        for n in range(7 - i):
            await crm_service.ingest_call_event({
                "event_id": f"b{i}-{n}", "call_id": f"b{i}-{n}", "type": "ended",
                "customer_id": str(c.id), "outcome": "no_answer",
                "occurred_at": f"2026-03-0{n + 1}T03:00:00Z"})
    await crm_service.customers.merge(ids[0], [ids[1]])
    given = [str(i) for i in ids] + [str(uuid.uuid4()), "not-a-uuid"]
    burst = await crm_service.customer_summaries(
        [(c, lang, None) for c in given for lang in (Language.ZH, Language.EN)])
    assert {k for k, _, _ in burst} == {str(i) for i in ids}
    for cid in ids:
        for language in (Language.ZH, Language.EN):
            alone = await crm_service.customer_summary(str(cid), language=language)
            assert burst[str(cid), language, None] == alone
    assert burst[str(ids[1]), Language.ZH, None]["customer_id"] == str(ids[0])
    assert len(burst[str(ids[3]), Language.ZH, None]["recent_contacts"]) == 4
    assert burst[str(ids[3]), Language.EN, None]["recommended_script"]["name"] == "vip-en"


async def _campaign_with_leads(svc: CrmService, n: int) -> uuid.UUID:
    campaign = await svc.campaigns.create({"name": f"camp-{n}", "max_attempts": 2})
    rows = [{"name": f"客户{i}", "phone": f"1380000{i:04d}", "priority": str(i)} for i in range(n)]
    async for _ in svc.import_leads(campaign.id, rows):
        pass
    return campaign.id


async def test_given_leads_when_two_workers_claim_then_disjoint(crm_service):
    cid = await _campaign_with_leads(crm_service, 6)
    first = await crm_service.claim_leads(cid, "w1", 4)
    second = await crm_service.claim_leads(cid, "w2", 4)
    assert [v.priority for v in first] == [5, 4, 3, 2]
    assert {v.id for v in first}.isdisjoint({v.id for v in second}) and len(second) == 2
    assert await crm_service.unlock_leads([v.id for v in first], "w2") == 0
    assert await crm_service.unlock_leads([v.id for v in first], "w1") == 4


async def test_given_attempts_when_recording_then_retry_then_exhausted(crm_service, crm_clock):
    cid = await _campaign_with_leads(crm_service, 1)
    (lead,) = await crm_service.claim_leads(cid, "w1", 1)
    with pytest.raises(LeadLockedError):
        await crm_service.record_attempt(lead.id, AttemptOutcome.BUSY, worker="w2")
    after = await crm_service.record_attempt(lead.id, AttemptOutcome.BUSY, worker="w1")
    assert after.status is LeadStatus.RETRY and after.locked_by is None
    assert after.next_attempt_at == crm_clock.now() + timedelta(minutes=15)
    assert await crm_service.next_eligible_leads(cid, 5) == []
    crm_clock.advance(timedelta(minutes=16))
    (again,) = await crm_service.next_eligible_leads(cid, 5)
    final = await crm_service.record_attempt(again.id, AttemptOutcome.NO_ANSWER)
    assert final.status is LeadStatus.EXHAUSTED and final.attempts == 2


async def test_given_dnc_number_when_checking_and_claiming_then_blocked(crm_service):
    cid = await _campaign_with_leads(crm_service, 2)
    await crm_service.dnc.add("13800000001", campaign_id=cid, reason="asked")
    assert await crm_service.is_dnc("+8613800000001", cid)
    assert not await crm_service.is_dnc("+8613800000001", None)
    claimed = await crm_service.claim_leads(cid, "w", 5)
    assert [v.phone_e164 for v in claimed] == ["+8613800000000"]


async def test_given_bytes_when_storing_recording_then_checksum_and_link(crm_service):
    await crm_service.ingest_call_event({"event_id": "r1", "call_id": "cr", "type": "ended"})
    rec = await crm_service.store_recording(
        "cr", b"RIFF-not-really-wav", content_type="audio/x-raw"
    )
    assert rec.size_bytes == 19 and len(rec.sha256) == 64
    call, _ = await crm_service.calls.get("cr")
    assert call.recording_id == rec.id


async def test_given_user_when_logging_in_then_session_works_until_logout(crm_service):
    await crm_service.auth.create_user("amy", Role.AGENT, password="password-1")
    sid, who = await crm_service.auth.login("amy", "password-1")
    assert (await crm_service.auth.principal_for_session(sid)).user_id == who.user_id
    await crm_service.auth.logout(sid)
    from crm.errors import AuthenticationError

    with pytest.raises(AuthenticationError):
        await crm_service.auth.principal_for_session(sid)


async def test_given_task_when_completing_then_status_and_timestamp(crm_service):
    task = await crm_service.work.create_task(TaskInput(title="回电"))
    from crm.services.work import TaskChanges

    done = await crm_service.work.update_task(
        task.id, TaskChanges(status=TaskStatus.DONE, fields_set=frozenset({"status"}))
    )
    assert done.status == "done" and done.completed_at is not None


async def test_given_foreign_number_when_updating_then_conflict_and_nothing_written(crm_service):
    a, _ = await crm_service.customers.create(CustomerInput(name="A", phones=["13800000001"]))
    b, _ = await crm_service.customers.create(CustomerInput(name="B", phones=["13800000002"]))
    with pytest.raises(NumberConflictError):
        await crm_service.customers.update(
            b.id, CustomerChanges(name="B2", add_phones=["13800000001"])
        )
    assert (await crm_service.customers.get(b.id)).name == "B"
