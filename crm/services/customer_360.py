"""The customer 360 (the ``/customers/{id}`` page): what the screen-pop summary leaves out.

- :meth:`Customer360Service.activity`: the numbers with their type, region and do-not-call
  state; every call the viewer may see (:func:`crm.domain.access.sees`: an agent their own,
  a manager their campaigns') with its campaign, agent, duration, recording, post-call analysis
  and the rules that fired; the leads with their campaign and next attempt; the merge audit.
- :meth:`Customer360Service.merge_preview`: what a merge would move, before it does.

The transcript, the signed recording URL, notes and tasks have their own endpoints.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import phonenumbers
import sqlalchemy as sa
from phonenumbers import geocoder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col

from crm.db.models import Call, Customer, CustomerTag, Note, PhoneNumber, Recording, Task
from crm.db.models_ops import GLOBAL_SCOPE, AuditLog, Campaign, DncEntry, Lead, User
from crm.db.models_speech import CallAnalysisRow, RuleFiringRow
from crm.domain.access import Principal, Reach, sees
from crm.domain.enums import Role
from crm.errors import InvalidInputError
from crm.services.customers import resolve_customer, tags_of

MERGE_ACTIONS = ("customer.merged", "customer.merged_on_create")
MAX_CALLS = 500


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def region_of(e164: str, language: str) -> str | None:
    """The number's place (city or country) in ``language``; None when unknown."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    lang = "zh" if language == "zh" else "en"
    return geocoder.description_for_number(parsed, lang) or phonenumbers.region_code_for_number(
        parsed) or None


class Customer360Service:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def activity(self, customer_id: uuid.UUID, viewer: Principal, *,
                       language: str = "zh") -> dict[str, Any]:
        async with self._sessions() as s:
            customer = await resolve_customer(s, customer_id)
            cid = customer.id
            return {
                "customer_id": str(cid),
                "name": customer.name,
                "email": customer.email,
                "timezone": customer.timezone,
                "external_ref": customer.external_ref,
                "tags": (await tags_of(s, [cid]))[cid],
                "numbers": await _numbers(s, cid, language),
                "calls": await _calls(s, cid, viewer),
                "leads": await _leads(s, cid, viewer),
                "merges": await _merges(s, cid),
            }

    async def merge_preview(self, target_id: uuid.UUID,
                            source_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
        """Per source: its name, numbers and how many calls, tasks, notes, leads and new tags
        would move into the target (nothing changes)."""
        if not source_ids:
            raise InvalidInputError("source_ids", "name at least one customer to merge")
        async with self._sessions() as s:
            target = await resolve_customer(s, target_id)
            sources: dict[uuid.UUID, Customer] = {}
            for i, sid in enumerate(source_ids):
                src = await resolve_customer(s, sid)
                if src.id == target.id:
                    raise InvalidInputError(f"source_ids[{i}]",
                                            "cannot merge a customer into itself")
                sources[src.id] = src
            target_tags = set(await s.scalars(sa.select(col(CustomerTag.tag_id)).where(
                col(CustomerTag.customer_id) == target.id)))
            items = [await _moves(s, src, target_tags) for src in sources.values()]
        total = {k: sum(i["moves"][k] for i in items) for k in items[0]["moves"]}
        return {"target": {"id": str(target.id), "name": target.name},
                "sources": items, "total": total}


async def _moves(s: AsyncSession, src: Customer, target_tags: set[int]) -> dict[str, Any]:
    moves: dict[str, int] = {}
    numbers = list(await s.scalars(sa.select(col(PhoneNumber.e164)).where(
        col(PhoneNumber.customer_id) == src.id).order_by(col(PhoneNumber.created_at))))
    moves["numbers"] = len(numbers)
    for name, model in (("calls", Call), ("tasks", Task), ("notes", Note), ("leads", Lead)):
        table: sa.Table = model.__table__  # type: ignore[union-attr]
        moves[name] = int(await s.scalar(sa.select(sa.func.count()).select_from(table).where(
            table.c.customer_id == src.id)) or 0)
    tags = set(await s.scalars(sa.select(col(CustomerTag.tag_id)).where(
        col(CustomerTag.customer_id) == src.id)))
    moves["tags"] = len(tags - target_tags)
    return {"id": str(src.id), "name": src.name, "numbers": numbers, "moves": moves}


async def _numbers(s: AsyncSession, cid: uuid.UUID, language: str) -> list[dict[str, Any]]:
    rows = (await s.scalars(sa.select(PhoneNumber).where(col(PhoneNumber.customer_id) == cid)
                            .order_by(col(PhoneNumber.created_at)))).all()
    e164s = [n.e164 for n in rows]
    dnc: dict[str, dict[str, Any]] = {e: {"global": False, "campaigns": []} for e in e164s}
    if e164s:
        found = await s.execute(
            sa.select(col(DncEntry.e164), col(DncEntry.scope), col(Campaign.name))
            .outerjoin(Campaign, col(Campaign.id) == col(DncEntry.campaign_id))
            .where(col(DncEntry.e164).in_(e164s)))
        for e164, scope, campaign in found.all():
            if scope == GLOBAL_SCOPE:
                dnc[e164]["global"] = True
            else:
                dnc[e164]["campaigns"].append(campaign or scope)
    return [{"e164": n.e164, "national": n.raw, "type": n.number_type,
             "region": region_of(n.e164, language), "dnc": dnc[n.e164]} for n in rows]


async def _calls(s: AsyncSession, cid: uuid.UUID, viewer: Principal) -> list[dict[str, Any]]:
    agent = aliased(User)
    stmt = (
        sa.select(Call, col(Campaign.name), col(Campaign.manager_id), col(agent.username),
                  col(agent.display_name), CallAnalysisRow)
        .outerjoin(Campaign, col(Campaign.id) == col(Call.campaign_id))
        .outerjoin(agent, col(agent.id) == col(Call.agent_id))
        .outerjoin(CallAnalysisRow, col(CallAnalysisRow.call_id) == col(Call.call_id))
        .where(col(Call.customer_id) == cid)
        .order_by(col(Call.originated_at).desc().nulls_last(), col(Call.call_id))
        .limit(MAX_CALLS))
    visible = []
    for call, campaign, manager_id, username, display, analysis in (await s.execute(stmt)).all():
        reach = Reach.of([manager_id], [call.agent_id], campaign_less=call.campaign_id is None)
        if sees(viewer, reach):
            visible.append((call, campaign, username, display, analysis))
    ids = [c.call_id for c, *_ in visible]
    recordings = await _recordings(s, ids)
    firings = await _firings(s, ids)
    return [_call_json(call, campaign, username, display, analysis,
                       recordings.get(call.call_id), firings.get(call.call_id, []))
            for call, campaign, username, display, analysis in visible]


def _call_json(call: Call, campaign: str | None, username: str | None, display: str | None,
               analysis: CallAnalysisRow | None, recording: Recording | None,
               firings: list[dict[str, Any]]) -> dict[str, Any]:
    duration = call.talk_seconds
    if duration is None and call.ended_at and (call.answered_at or call.bridged_at):
        start = call.bridged_at or call.answered_at
        duration = max(0.0, (call.ended_at - start).total_seconds())  # type: ignore[operator]
    return {
        "call_id": call.call_id,
        "at": _iso(call.originated_at or call.last_event_at),
        "ended_at": _iso(call.ended_at),
        "state": call.state,
        "outcome": call.outcome,
        "disposition": call.disposition,
        "number": call.number_dialed,
        "campaign_id": str(call.campaign_id) if call.campaign_id else None,
        "campaign": campaign,
        "agent_id": str(call.agent_id) if call.agent_id else None,
        "agent": display or username,
        "talk_seconds": duration,
        "recording": None if recording is None else {
            "id": str(recording.id), "duration_seconds": recording.duration_seconds},
        "analysis": None if analysis is None else {
            "sentiment": analysis.sentiment, "sentiment_label": analysis.sentiment_label,
            "intent_score": analysis.intent_score, "concepts": analysis.concepts},
        "intent_score": call.intent_score,
        "rules": firings,
    }


async def _recordings(s: AsyncSession, call_ids: list[str]) -> dict[str, Recording]:
    if not call_ids:
        return {}
    rows = await s.scalars(sa.select(Recording).where(
        col(Recording.call_id).in_(call_ids), col(Recording.purged_at).is_(None))
        .order_by(col(Recording.created_at)))
    return {r.call_id: r for r in rows}  # the latest per call


async def _firings(s: AsyncSession, call_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    if not call_ids:
        return found
    rows = await s.scalars(sa.select(RuleFiringRow).where(col(RuleFiringRow.call_id).in_(call_ids))
                           .order_by(col(RuleFiringRow.fired_at)))
    for f in rows:
        found.setdefault(f.call_id or "", []).append({
            "rule_id": f.rule_id, "rule_name": f.rule_name, "trigger": f.trigger,
            "action": f.action, "segment_id": f.segment_id, "evidence": f.evidence,
            "fired_at": _iso(f.fired_at)})
    return found


async def _leads(s: AsyncSession, cid: uuid.UUID, viewer: Principal) -> list[dict[str, Any]]:
    """The customer's leads; a manager sees those of their campaigns (and of unmanaged ones)."""
    agent = aliased(User)
    rows = (await s.execute(
        sa.select(Lead, col(Campaign.name), col(Campaign.manager_id), col(agent.username))
        .join(Campaign, col(Campaign.id) == col(Lead.campaign_id))
        .outerjoin(agent, col(agent.id) == col(Lead.agent_id))
        .where(col(Lead.customer_id) == cid)
        .order_by(col(Lead.next_attempt_at).asc().nulls_last(), col(Lead.created_at)))).all()
    out = []
    for lead, campaign, manager_id, username in rows:
        if viewer.role is Role.MANAGER and not sees(viewer, Reach.of([manager_id], [])):
            continue
        out.append({"id": str(lead.id), "campaign_id": str(lead.campaign_id),
                    "campaign": campaign, "number": lead.phone_e164, "status": lead.status,
                    "attempts": lead.attempts, "next_attempt_at": _iso(lead.next_attempt_at),
                    "last_outcome": lead.last_outcome,
                    "last_attempt_at": _iso(lead.last_attempt_at), "agent": username})
    return out


async def _merges(s: AsyncSession, cid: uuid.UUID) -> list[dict[str, Any]]:
    """The merge audit: what was folded into this customer, when, by whom."""
    rows = (await s.execute(
        sa.select(AuditLog, col(User.username))
        .outerjoin(User, col(User.id) == col(AuditLog.actor_id))
        .where(col(AuditLog.entity_type) == "customer", col(AuditLog.entity_id) == str(cid),
               col(AuditLog.action).in_(MERGE_ACTIONS))
        .order_by(col(AuditLog.at).desc()))).all()
    names = {str(i): n for i, n in (await s.execute(
        sa.select(col(Customer.id), col(Customer.name)).where(
            col(Customer.merged_into_id) == cid))).all()}
    out = []
    for entry, username in rows:
        details = entry.details or {}
        sources = [{"id": sid, "name": names.get(str(sid))}
                   for sid in details.get("sources", [])]
        out.append({"at": _iso(entry.at), "action": entry.action, "actor": username,
                    "sources": sources, "moved": details.get("moved", {}),
                    "numbers": details.get("numbers", [])})
    return out

