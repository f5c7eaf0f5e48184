"""The live path on the CRM side: segments → keywords/sentiment/dates → in-call rules → tasks
and pushes; the call's end → intent 0-10 → post-call rules (SQLite, and PostgreSQL when
CRM_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from crm.db.models import Task
from crm.db.models_ops import Campaign, Lead
from crm.db.models_speech import RuleFiringRow
from crm.domain.enums import Role
from crm.services.customers import CustomerInput


class Collector:
    """An in-memory LivePublisher: what the agent's socket would receive."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, agent_id: str, message: Mapping[str, Any]) -> int:
        self.sent.append((agent_id, dict(message)))
        return 1

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, m in self.sent if m["type"] == kind]


@pytest.fixture
async def world(crm_service, crm_clock):
    svc = crm_service
    await svc.rules.seed_defaults_if_empty()
    agent = await svc.auth.create_user("agent1005", Role.AGENT, password=None)
    manager = await svc.auth.create_user("boss", Role.MANAGER, password=None)
    customer, _ = await svc.customers.create(CustomerInput(
        name="王五", phones=["13800138000"], timezone="Asia/Shanghai", tags=["price_sensitive"]))
    async with svc.engine.begin() as conn:
        campaign_id, lead_id = uuid.uuid4(), uuid.uuid4()
        await conn.execute(sa.insert(Campaign).values(
            id=campaign_id, name="spring", manager_id=manager.id, created_at=crm_clock.now()))
        await conn.execute(sa.insert(Lead).values(
            id=lead_id, campaign_id=campaign_id, customer_id=customer.id,
            phone_e164="+8613800138000", created_at=crm_clock.now(),
            updated_at=crm_clock.now()))
    pushed = Collector()
    svc.attach_live(pushed)
    return {"svc": svc, "agent": agent, "manager": manager, "customer": customer,
            "campaign_id": campaign_id, "lead_id": lead_id, "pushed": pushed}


async def _event(svc, call_id: str, kind: str, n: int, **extra: Any) -> None:
    at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC) + timedelta(seconds=n)
    await svc.ingest_call_event({"event_id": f"{call_id}-{kind}", "call_id": call_id,
                                 "type": kind, "occurred_at": at.isoformat(), **extra})


async def _bridged_call(w, call_id: str = "call-live") -> None:
    ids = {"customer_id": str(w["customer"].id), "campaign_id": str(w["campaign_id"]),
           "lead_id": str(w["lead_id"])}
    await _event(w["svc"], call_id, "originated", 0, number_dialed="13800138000", **ids)
    await _event(w["svc"], call_id, "answered", 2)
    await _event(w["svc"], call_id, "bridged", 3, agent_id="agent1005")


def _said(i: int, text: str, speaker: str = "customer") -> dict[str, Any]:
    return {"segment_id": f"seg-{i}", "speaker": speaker, "start_s": 10.0 * i,
            "end_s": 10.0 * i + 4, "text": text, "confidence": 0.8, "language": None}


async def _tasks(svc, call_id: str) -> list[Task]:
    async with svc.engine.connect() as conn:
        rows = await conn.execute(sa.select(Task).where(Task.call_id == call_id))
        return list(rows.all())


async def _firings(svc, call_id: str) -> list[Any]:
    async with svc.engine.connect() as conn:
        rows = await conn.execute(sa.select(RuleFiringRow).where(
            RuleFiringRow.call_id == call_id).order_by(RuleFiringRow.id))
        return list(rows.all())


async def test_given_price_question_when_segment_added_then_quote_task_and_audit(world):
    svc = world["svc"]
    await _bridged_call(world)
    result = await svc.add_transcript_segment(
        "call-live", _said(1, "What is the price if we start a cooperation?"))
    assert result.processed and [f["rule_id"] for f in result.firings] == ["quote-on-price"]
    (task,) = await _tasks(svc, "call-live")
    assert task.title == "24小时内发送报价" and task.origin == "rule" and task.priority == 2
    assert task.owner_id == world["agent"].id and task.customer_id == world["customer"].id
    assert task.due_at == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)  # +24 h
    (firing,) = await _firings(svc, "call-live")
    assert firing.segment_id == "seg-1" and firing.task_id == task.id
    assert "price" in firing.evidence[0] and "cooperation" in firing.evidence[0]
    lines = world["pushed"].of("transcript")
    assert lines[0]["text"].startswith("What is the price") and lines[0]["concepts"] == [
        "cooperation", "price"]
    assert world["pushed"].of("task_created")[0]["task"]["id"] == str(task.id)
    assert {a for a, _ in world["pushed"].sent} == {"agent1005"}


async def test_given_same_segment_retried_when_added_then_nothing_fires_twice(world):
    svc = world["svc"]
    await _bridged_call(world)
    seg = _said(1, "what is the price?")
    await svc.add_transcript_segment("call-live", seg)
    again = await svc.add_transcript_segment("call-live", seg)
    await svc.add_transcript_segment("call-live", _said(2, "and the price again?"))
    assert again.created is False
    assert len(await _tasks(svc, "call-live")) == 1  # quote-on-price is once per call
    assert len(await _firings(svc, "call-live")) == 1


async def test_given_too_expensive_in_chinese_when_added_then_discount_suggestion_pushed(world):
    svc = world["svc"]
    await _bridged_call(world)
    await svc.add_transcript_segment("call-live", _said(1, "价格太贵了，下周再联系"))
    (suggestion,) = world["pushed"].of("suggestion")
    assert suggestion["script"] == "discount_offer" and suggestion["call_id"] == "call-live"
    assert suggestion["message"]["zh"] == "客户嫌贵：可提供首单九折优惠"
    assert "too_expensive" in suggestion["evidence"][0]
    tasks = {t.title: t for t in await _tasks(svc, "call-live")}
    # "下周再联系" on Monday 2026-03-02 in Shanghai -> next Monday 10:00 +08:00
    assert tasks["按约定回电"].due_at == datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    assert "24小时内发送报价" in tasks  # "价格" is a price question too
    actions = sorted(f.action for f in await _firings(svc, "call-live"))
    assert actions == ["create_task", "create_task", "suggest_script"]


async def test_given_customer_in_new_york_when_next_week_then_due_in_their_zone(world):
    svc = world["svc"]
    await svc.customers.update(world["customer"].id, _tz_change("America/New_York"))
    await _bridged_call(world)
    await svc.add_transcript_segment("call-live", _said(1, "Please call me next week."))
    (task,) = [t for t in await _tasks(svc, "call-live") if t.title == "按约定回电"]
    # 03:00 UTC Monday is Sunday 22:00 in New York: "next week" is Monday 10:00 EST
    assert task.due_at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _tz_change(zone: str) -> Any:
    from crm.services.customers import CustomerChanges

    return CustomerChanges(timezone=zone)


async def test_given_agent_speech_when_added_then_transcribed_but_no_rule_fires(world):
    svc = world["svc"]
    await _bridged_call(world)
    result = await svc.add_transcript_segment(
        "call-live", _said(1, "Our price is the best, too expensive elsewhere", "agent"))
    assert result.processed and result.firings == []
    assert world["pushed"].of("transcript")[0]["speaker"] == "agent"


async def test_given_segment_before_call_events_when_call_bridged_then_processed(world):
    svc = world["svc"]
    early = await svc.add_transcript_segment("call-early", _said(1, "what's the price?"))
    assert early.created and not early.processed and world["pushed"].sent == []
    await _event(svc, "call-early", "originated", 0, customer_id=str(world["customer"].id))
    assert await _tasks(svc, "call-early") == []  # no agent yet: still waiting
    await _event(svc, "call-early", "bridged", 3, agent_id="agent1005")
    (task,) = await _tasks(svc, "call-early")
    assert task.owner_id == world["agent"].id
    assert world["pushed"].of("transcript")[0]["segment_id"] == "seg-1"
    _, rows = await svc.transcripts.transcript("call-early")
    assert rows[0].processed_at is not None and rows[0].concepts == ["price"]


async def test_given_gap_marker_when_added_then_pushed_as_gap(world):
    svc = world["svc"]
    await _bridged_call(world)
    await svc.add_transcript_segment("call-live", {
        "segment_id": "gap-1", "speaker": "customer", "start_s": 5, "end_s": 12, "gap": True,
        "reason": "recogniser_unavailable"})
    (line,) = world["pushed"].of("transcript")
    assert line["gap"] is True and line["reason"] == "recogniser_unavailable"


async def test_given_interested_customer_when_call_ends_then_high_intent_on_supervisor_todo(
    world, crm_client, crm_actors
):
    svc = world["svc"]
    await _bridged_call(world)
    await svc.add_transcript_segment("call-live", _said(
        1, "We are very interested in a cooperation, what is the price?"))
    await svc.add_transcript_segment("call-live", _said(2, "Sounds great, send the contract."))
    await _event(svc, "call-live", "ended", 243)
    analysis = await svc.rule_audit.analysis("call-live")
    assert analysis.intent_score >= 7 and analysis.sentiment > 0
    assert {f["name"] for f in analysis.intent_factors} >= {"outcome", "talk_time", "keywords"}
    call, _ = await svc.calls.get("call-live")
    assert call.intent_score == pytest.approx(analysis.intent_score / 10)
    todo = [t for t in await _tasks(svc, "call-live") if t.owner_id == world["manager"].id]
    assert len(todo) == 1 and todo[0].title == "高意向客户，请分配资深坐席"
    async with svc.engine.connect() as conn:
        lead_priority = await conn.scalar(sa.select(Lead.priority).where(
            Lead.id == world["lead_id"]))
    assert lead_priority == 3  # urgent
    await _event(svc, "call-live", "disposition_set", 300, disposition="sale")
    call, _ = await svc.calls.get("call-live")
    assert call.intent_score == pytest.approx(analysis.intent_score / 10)  # kept by later events
    resp = await crm_client.get("/api/supervisor/todo", headers=crm_actors["admin"].headers)
    items = (await resp.json())["items"]
    assert resp.status == 200 and [i["rule_id"] for i in items] == ["high-intent"]
    assert items[0]["call_id"] == "call-live" and items[0]["evidence"][0].startswith("intent")
    denied = await crm_client.get("/api/supervisor/todo", headers=crm_actors["agent"].headers)
    assert denied.status == 403


async def test_given_not_interested_when_call_ends_then_nurture_tag_and_low_priority(world):
    svc = world["svc"]
    await _bridged_call(world)
    await svc.add_transcript_segment("call-live", _said(1, "Not interested, goodbye."))
    await _event(svc, "call-live", "ended", 30)
    analysis = await svc.rule_audit.analysis("call-live")
    assert analysis.intent_score < 4
    tags = (await svc.customers.tags_of([world["customer"].id]))[world["customer"].id]
    assert "nurture:monthly_newsletter" in tags
    fired = {f.rule_id for f in await _firings(svc, "call-live")}
    assert "low-intent-nurture" in fired and "high-intent" not in fired


async def test_given_late_segment_after_end_when_added_then_analysis_redone_once(world):
    svc = world["svc"]
    await _bridged_call(world)
    await svc.add_transcript_segment("call-live", _said(1, "Hello, who is this?"))
    await _event(svc, "call-live", "ended", 200)
    before = await svc.rule_audit.analysis("call-live")
    await svc.add_transcript_segment("call-live", _said(9, "We are interested, send a quote."))
    after = await svc.rule_audit.analysis("call-live")
    assert after.segments == before.segments + 1 and after.intent_score > before.intent_score
    call, _ = await svc.calls.get("call-live")
    assert call.intent_score == pytest.approx(after.intent_score / 10)


async def test_given_call_without_transcript_when_it_ends_then_no_analysis_no_extra_event(world):
    svc = world["svc"]
    await _bridged_call(world)
    await _event(svc, "call-live", "ended", 60, intent_score=0.8)
    call, events = await svc.calls.get("call-live")
    assert call.intent_score == 0.8 and len(events) == 4
    assert await _firings(svc, "call-live") == []


async def test_given_pre_call_rules_when_price_sensitive_then_value_script(world):
    got = await world["svc"].live.recommended_script(["Price_Sensitive"])
    assert got is not None and got["script"] == "value_first" and got["rule_id"] == (
        "script-price-sensitive")


async def test_given_pre_call_rule_and_its_template_when_pop_then_rule_script_recommended(world):
    svc = world["svc"]
    from crm.domain.enums import Language

    await svc.reference.add_script(name="generic", body="您好", language=Language.ZH,
                                   tags=["price_sensitive"], priority=5)
    plain = await svc.customer_summary(world["customer"].id)
    assert plain["recommended_script"]["name"] == "generic"  # no template for the rule's script
    assert plain["script_rule"]["script"] == "value_first"
    await svc.reference.add_script(name="value_first", body="先讲价值", language=Language.ZH)
    await svc.reference.add_script(name="value_first", body="Value first", language=Language.EN)
    pop = await svc.customer_summary(world["customer"].id, language=Language.EN)
    script = pop["recommended_script"]
    assert (script["name"], script["body"]) == ("value_first", "Value first")
    assert script["rule_id"] == "script-price-sensitive" and script["evidence"] == [
        "tags: price_sensitive"]


async def test_given_processing_failed_when_segment_retried_then_processed_once(world):
    svc = world["svc"]
    await _bridged_call(world)
    real = svc.transcripts.processor

    class Broken:
        async def process(self, call_id, rows):
            raise RuntimeError("analysis down")

        async def post_call(self, call_id):
            return None

    svc.transcripts.processor = Broken()
    with pytest.raises(RuntimeError):
        await svc.add_transcript_segment("call-live", _said(1, "what is the price?"))
    svc.transcripts.processor = real
    retry = await svc.add_transcript_segment("call-live", _said(1, "what is the price?"))
    assert retry.created is False and retry.processed
    assert [f["rule_id"] for f in retry.firings] == ["quote-on-price"]
    again = await svc.add_transcript_segment("call-live", _said(1, "what is the price?"))
    assert again.firings == [] and len(await _tasks(svc, "call-live")) == 1


async def test_given_todos_of_two_managers_when_manager_lists_then_own_and_unowned_only(
    world, crm_client, crm_actors
):
    svc = world["svc"]
    await _bridged_call(world)  # campaign managed by "boss"
    await svc.ingest_call_event({"event_id": "o-1", "call_id": "call-orphan", "type": "bridged",
                                 "agent_id": "agent1005",
                                 "customer_id": str(world["customer"].id)})
    for call_id in ("call-live", "call-orphan"):
        await svc.add_transcript_segment(call_id, _said(
            1, "We are very interested in a cooperation, what is the price? Sounds great."))
        await svc.ingest_call_event({"event_id": f"{call_id}-answered", "call_id": call_id,
                                     "type": "answered"})
        await svc.ingest_call_event({"event_id": f"{call_id}-end", "call_id": call_id,
                                     "type": "ended", "talk_seconds": 240})
    listed = await crm_client.get("/api/supervisor/todo", headers=crm_actors["manager"].headers)
    items = (await listed.json())["items"]
    assert [i["call_id"] for i in items] == ["call-orphan"]  # no campaign: unowned
    everyone = await crm_client.get("/api/supervisor/todo?status=all",
                                    headers=crm_actors["admin"].headers)
    assert sorted(i["call_id"] for i in (await everyone.json())["items"]) == [
        "call-live", "call-orphan"]


async def test_given_negative_mood_without_keyword_when_added_then_sentiment_rule_suggests(world):
    svc = world["svc"]
    await _bridged_call(world)
    result = await svc.add_transcript_segment("call-live", _said(1, "我很失望，真的很烦"))
    assert [f["rule_id"] for f in result.firings] == ["discount-on-objection"]
    assert result.firings[0]["evidence"][0].startswith("sentiment -0.9")
    (line,) = world["pushed"].of("transcript")
    assert line["concepts"] == [] and line["sentiment"] < -0.5
    assert world["pushed"].of("suggestion")[0]["script"] == "discount_offer"
