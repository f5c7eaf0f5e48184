"""The live analysis path: transcript segments → keywords, sentiment, dates → ``in_call``
rules; the call's end → per-call sentiment and intent → ``post_call`` rules; the customer's
tags → ``pre_call`` script.

Each firing is applied (a task, a tag, a lead's priority, a live suggestion) and audited in
``rule_firings`` (rule, call, segment, evidence, result) in the same transaction. A dedupe key
per firing makes a retried segment or a re-run post-call analysis act once. Messages for the
agent (``transcript``, ``suggestion``, ``task_created``) are pushed after the commit.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm import rules as r
from crm.analysis import (
    CallOutcome,
    Lexicon,
    UtteranceAnalysis,
    analyse_call,
    analyse_utterance,
)
from crm.db.models import Call, Customer, Task
from crm.db.models_ops import Campaign, Lead, ScriptTemplate, User
from crm.db.models_speech import CallAnalysisRow, RuleFiringRow, TranscriptSegmentRow
from crm.domain.enums import TaskOrigin
from crm.ports import Clock
from crm.services.calls import CallService
from crm.services.common import audit, transaction
from crm.services.customers import link_tags, tags_of
from crm.services.reference import scripts_of
from crm.services.rules_store import RulesStore
from crm.services.transcripts import LivePublisher

log = logging.getLogger(__name__)

TASK_PRIORITY = {r.Priority.URGENT: 3, r.Priority.HIGH: 2, r.Priority.NORMAL: 1, r.Priority.LOW: 0}
LEAD_PRIORITY = {r.Priority.URGENT: 3, r.Priority.HIGH: 2, r.Priority.NORMAL: 1,
                 r.Priority.LOW: -1}
_OUTCOMES = {
    "answered": CallOutcome.ANSWERED, "machine": CallOutcome.VOICEMAIL,
    "voicemail": CallOutcome.VOICEMAIL, "no_answer": CallOutcome.NO_ANSWER,
    "busy": CallOutcome.BUSY, "failed": CallOutcome.FAILED,
    "invalid_number": CallOutcome.FAILED, "abandoned": CallOutcome.ABANDONED,
}


@dataclass
class CallContext:
    call: Call
    agent_username: str | None
    manager_id: uuid.UUID | None
    timezone: str
    tags: frozenset[str]


@dataclass
class _Outbox:
    """What to push to the agent once the transaction has committed."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    firings: list[dict[str, Any]] = field(default_factory=list)


def call_outcome(call: Call) -> CallOutcome:
    if call.outcome and call.outcome in _OUTCOMES:
        return _OUTCOMES[call.outcome]
    return CallOutcome.ANSWERED if call.answered_at else CallOutcome.NO_ANSWER


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _action_name(action: r.Action) -> str:
    return {
        r.CreateTask: "create_task", r.SuggestScript: "suggest_script",
        r.RecommendScript: "recommend_script", r.SetFollowUpPriority: "set_priority",
        r.SupervisorTodo: "supervisor_todo", r.Nurture: "nurture",
    }[type(action)]


# the scripts named by pre-call rules, every campaign's and those of the given campaigns (built
# once: the pop and the customer read run it; building it each time showed in the profile)
_NAMED_SCRIPTS = sa.select(ScriptTemplate).where(
    col(ScriptTemplate.name).in_(sa.bindparam("names", expanding=True)),
    col(ScriptTemplate.active).is_(True),
    sa.or_(scripts_of(None),
           col(ScriptTemplate.campaign_id).in_(sa.bindparam("campaigns", expanding=True))))


class LiveRules:
    """Implements the transcript service's ``SegmentProcessor`` and the post-call step."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, lexicon: Lexicon,
                 rules: RulesStore, default_timezone: str, calls: CallService) -> None:
        self._sessions = sessions
        self._clock = clock
        self.lexicon = lexicon
        self.rules = rules
        self.default_timezone = default_timezone
        self.calls = calls
        self.publisher: LivePublisher | None = None
        self.pushed = 0
        self.task_listeners: list[Callable[[], None]] = []  # "a rule made tasks" (wallboard)

    async def system_todo(self, campaign_id: uuid.UUID, key: str, title: Mapping[str, str],
                          evidence: Sequence[str]) -> uuid.UUID | None:
        """A supervisor to-do raised by the dialer, not by a call's rule (e.g. the abandon
        alarm): an urgent task for the campaign's manager, with its ``supervisor_todo`` firing
        (``rule_id`` ``dialer``) so the supervisor's list and the wallboard show it. Idempotent
        by ``key`` (the outbox may deliver twice); None when seen before."""
        dedupe = f"dialer|{campaign_id}|{key}"[:600]
        async with transaction(self._sessions) as s:
            if await s.scalar(sa.select(col(RuleFiringRow.id)).where(
                    col(RuleFiringRow.dedupe_key) == dedupe)) is not None:
                return None
            campaign = await s.get(Campaign, campaign_id)
            owner = campaign.manager_id if campaign else None
            now = self._clock.now()
            task = Task(title=title["zh"][:200], owner_id=owner,
                        priority=TASK_PRIORITY[r.Priority.URGENT], origin=TaskOrigin.RULE.value,
                        description=f"{title['en']}\n\n[dialer] {'; '.join(evidence)}"[:4000],
                        created_at=now, updated_at=now)
            s.add(task)
            await s.flush()
            audit(s, None, "task.created", "task", task.id,
                  {"origin": TaskOrigin.RULE.value, "rule_id": "dialer"})
            s.add(RuleFiringRow(
                dedupe_key=dedupe, rule_id="dialer", rule_name=title["en"][:200],
                trigger="dialer", action="supervisor_todo",
                detail={"kind": "supervisor_todo", "campaign_id": str(campaign_id),
                        "owner_id": str(owner) if owner else None},
                evidence=list(evidence), task_id=task.id, fired_at=now))
            task_id = task.id
        for listener in self.task_listeners:
            try:
                listener()
            except Exception:
                log.exception("task listener failed")
        return task_id

    # ---- context ---------------------------------------------------------------------------
    async def _context(self, s: AsyncSession, call_id: str) -> CallContext | None:
        call = await s.get(Call, call_id)
        if call is None:
            return None
        agent = await s.get(User, call.agent_id) if call.agent_id else None
        campaign = await s.get(Campaign, call.campaign_id) if call.campaign_id else None
        customer = await s.get(Customer, call.customer_id) if call.customer_id else None
        lead = await s.get(Lead, call.lead_id) if call.lead_id else None
        zone = ((customer.timezone if customer else None) or (lead.timezone if lead else None)
                or (campaign.timezone if campaign else None) or self.default_timezone)
        tags = (await tags_of(s, [call.customer_id]))[call.customer_id] if call.customer_id else []
        return CallContext(call, agent.username if agent else None,
                           campaign.manager_id if campaign else None, zone,
                           frozenset(t.casefold() for t in tags))

    # ---- in_call ---------------------------------------------------------------------------
    async def process(self, call_id: str, rows: Sequence[TranscriptSegmentRow]
                      ) -> list[dict[str, Any]]:
        """Analyse newly stored segments of a known call and run the in-call rules."""
        rules = await self.rules.rules()
        by_id = {rule.id: rule for rule in rules}
        out = _Outbox()
        async with transaction(self._sessions) as s:
            ctx = await self._context(s, call_id)
            if ctx is None:
                return []
            already = await self._fired(s, call_id, r.Trigger.IN_CALL)
            for pending in rows:
                row = await s.get(TranscriptSegmentRow, pending.id)
                if row is None or row.processed_at is not None:
                    continue
                utterance = self._analyse(row, ctx)
                row.processed_at = self._clock.now()
                out.messages.append(self._transcript_message(row))
                if utterance is None or row.speaker != "customer":
                    continue
                firings = r.evaluate(rules, r.in_call(
                    self._clock.now(), utterance=utterance, call_id=call_id,
                    customer_id=str(ctx.call.customer_id) if ctx.call.customer_id else None,
                    tags=ctx.tags, already_fired=already))
                already |= r.fired_rule_ids(firings)
                await self._apply_all(s, ctx, firings, by_id, row.segment_id, out)
        self._push(ctx.agent_username, out.messages, out.firings)
        return out.firings

    def _analyse(self, row: TranscriptSegmentRow, ctx: CallContext) -> UtteranceAnalysis | None:
        if row.gap or not row.text:
            return None
        u = analyse_utterance(row.text, self.lexicon, self._clock.now(), ctx.timezone,
                              speaker=row.speaker)
        row.concepts = sorted(u.concepts)
        row.sentiment = u.sentiment.score
        return u

    @staticmethod
    async def _fired(s: AsyncSession, call_id: str, trigger: r.Trigger) -> frozenset[str]:
        ids = await s.scalars(sa.select(col(RuleFiringRow.rule_id)).where(
            col(RuleFiringRow.call_id) == call_id, col(RuleFiringRow.trigger) == trigger.value))
        return frozenset(ids)

    # ---- post_call -------------------------------------------------------------------------
    async def post_call(self, call_id: str) -> CallAnalysisRow | None:
        """Per-call sentiment and intent (0-10), stored; the post-call rules applied. Calls
        without a transcript are left alone (no speech analytics: no score to act on)."""
        async with self._sessions() as s:
            has_transcript = await s.scalar(sa.select(col(TranscriptSegmentRow.id)).where(
                col(TranscriptSegmentRow.call_id) == call_id).limit(1))
        if has_transcript is None:
            return None
        rules = await self.rules.rules()
        by_id = {rule.id: rule for rule in rules}
        out = _Outbox()
        async with transaction(self._sessions) as s:
            ctx = await self._context(s, call_id)
            if ctx is None:
                return None
            rows = await s.scalars(sa.select(TranscriptSegmentRow).where(
                col(TranscriptSegmentRow.call_id) == call_id,
                col(TranscriptSegmentRow.gap).is_(False)).order_by(
                col(TranscriptSegmentRow.start_s)))
            utterances = [analyse_utterance(x.text, self.lexicon, speaker=x.speaker)
                          for x in rows if x.text]
            outcome, talk = call_outcome(ctx.call), float(ctx.call.talk_seconds or 0.0)
            result = analyse_call(utterances, outcome, talk, self.lexicon)
            analysis = await s.get(CallAnalysisRow, call_id) or CallAnalysisRow(
                call_id=call_id, sentiment=0.0, sentiment_label="neutral", intent_score=0.0)
            analysis.sentiment = result.sentiment.score
            analysis.sentiment_label = result.sentiment.label.value
            analysis.intent_score = result.intent.score
            analysis.intent_factors = [
                {"name": f.name, "points": f.points, "detail": f.detail}
                for f in result.intent.factors]
            analysis.concepts = sorted(result.concepts)
            analysis.segments = len(utterances)
            analysis.outcome = outcome.value
            analysis.analysed_at = self._clock.now()
            s.add(analysis)
            firings = r.evaluate(rules, r.post_call(
                self._clock.now(), call=result, outcome=outcome, talk_time_s=talk,
                call_id=call_id,
                customer_id=str(ctx.call.customer_id) if ctx.call.customer_id else None,
                tags=ctx.tags))
            await self._apply_all(s, ctx, firings, by_id, None, out)
        log.info("call %s: intent %.1f/10, sentiment %+.2f, %d post-call firings", call_id,
                 analysis.intent_score, analysis.sentiment, len(out.firings))
        self._push(ctx.agent_username, out.messages, out.firings)
        await self._record_intent(call_id, analysis)
        return analysis

    async def _record_intent(self, call_id: str, analysis: CallAnalysisRow) -> None:
        """The call row's ``intent_score`` (0..1 by the events' contract) comes from an
        ``intent_scored`` event, so later events folding the call keep it."""
        digest = hashlib.sha1(call_id.encode()).hexdigest()[:20]
        await self.calls.ingest({
            "event_id": f"intent-{digest}-{analysis.segments}-{analysis.intent_score:g}",
            "call_id": call_id, "type": "intent_scored",
            "intent_score": round(analysis.intent_score / 10, 3)})

    # ---- pre_call --------------------------------------------------------------------------
    async def recommended_script(self, tags: Sequence[str], customer_id: str | None = None
                                 ) -> dict[str, Any] | None:
        """The script the pre-call rules recommend for these tags (first firing wins)."""
        ctx = r.pre_call(self._clock.now(), customer_id=customer_id,
                         tags=frozenset(t.casefold() for t in tags))
        for f in r.evaluate(await self.rules.rules(), ctx):
            if isinstance(f.action, r.RecommendScript):
                return {"script": f.action.script, "rule_id": f.rule_id,
                        "evidence": list(f.evidence)}
        return None

    async def apply_pre_call(self, summary: dict[str, Any], language: str,
                             campaign_id: uuid.UUID | None = None) -> dict[str, Any]:
        """The pop's script: a pre-call rule's recommendation, when a script template of that
        name exists among every campaign's and ``campaign_id``'s (that campaign's and the
        caller's language first), replaces the tag-matched template. Before the rules are
        loaded (start-up seeds them) the pop is not held up by loading them."""
        await self.apply_pre_call_many([(summary, language, campaign_id)])
        return summary

    async def apply_pre_call_many(
        self, items: Sequence[tuple[dict[str, Any], str, uuid.UUID | None]],
        templates: Sequence[Any] | None = None,
    ) -> None:
        """:meth:`apply_pre_call` on many (summary, language, campaign) items: the templates
        the rules name are read in one query, or taken from ``templates`` (the active scripts
        of every campaign and of the items' campaigns, already read with the summary)."""
        if not self.rules.ready:
            for summary, _, _ in items:
                summary["script_rule"] = None
            return
        recs = []
        for summary, language, campaign_id in items:
            rec = await self.recommended_script(summary.get("tags") or [],
                                                summary.get("customer_id"))
            summary["script_rule"] = rec
            if rec is not None:
                recs.append((summary, language, campaign_id, rec))
        if not recs:
            return
        if templates is None:
            campaigns = list({c for _, _, c, _ in recs if c is not None})
            async with self._sessions() as s:
                templates = list(await s.scalars(_NAMED_SCRIPTS, {
                    "names": list({rec["script"] for *_, rec in recs}), "campaigns": campaigns}))
        for summary, language, campaign_id, rec in recs:
            found = [t for t in templates if t.name == rec["script"]
                     and t.campaign_id in (None, campaign_id)]  # scripts_of(campaign_id)
            if found:
                best = max(found, key=lambda t: (t.campaign_id is not None,
                                                 t.language == language, t.priority))
                summary["recommended_script"] = {
                    "id": str(best.id), "name": best.name, "language": best.language,
                    "body": best.body, "matched_tags": [], "rule_id": rec["rule_id"],
                    "evidence": rec["evidence"]}

    # ---- applying firings ------------------------------------------------------------------
    async def _apply_all(self, s: AsyncSession, ctx: CallContext,
                         firings: Sequence[r.RuleFiring], by_id: Mapping[str, r.Rule],
                         segment_id: str | None, out: _Outbox) -> None:
        index: dict[str, int] = {}
        for f in firings:
            i = index[f.rule_id] = index.get(f.rule_id, -1) + 1
            rule = by_id.get(f.rule_id)
            scope = ("post" if f.trigger is r.Trigger.POST_CALL
                     else "call" if rule is not None and rule.once_per_call else segment_id)
            key = f"{ctx.call.call_id}|{f.rule_id}|{scope}|{i}"
            if await s.scalar(sa.select(col(RuleFiringRow.id)).where(
                    col(RuleFiringRow.dedupe_key) == key)) is not None:
                continue
            await self._apply(s, ctx, f, key, segment_id, out)

    async def _apply(self, s: AsyncSession, ctx: CallContext, f: r.RuleFiring, key: str,
                     segment_id: str | None, out: _Outbox) -> None:
        action, call = f.action, ctx.call
        detail: dict[str, Any] = {}
        task: Task | None = None
        if isinstance(action, r.CreateTask):
            task = self._task(call, f, action.title, call.agent_id, TASK_PRIORITY[action.priority],
                              f.due_at)
            detail = {"kind": action.kind, "priority": action.priority.value,
                      "due_at": _iso(f.due_at)}
        elif isinstance(action, r.SupervisorTodo):
            task = self._task(call, f, action.note, ctx.manager_id, TASK_PRIORITY[
                r.Priority.URGENT], None)
            detail = {"kind": "supervisor_todo", "owner_id": str(ctx.manager_id or "") or None}
        elif isinstance(action, r.SuggestScript):
            detail = {"script": action.script,
                      "message": {"en": action.message.en, "zh": action.message.zh}}
        elif isinstance(action, r.SetFollowUpPriority):
            detail = await self._set_priority(s, call, action.priority)
        elif isinstance(action, r.Nurture):
            detail = {"program": action.program, "tag": f"nurture:{action.program}"[:64]}
            if call.customer_id is not None:
                await link_tags(s, call.customer_id, [detail["tag"]])
        elif isinstance(action, r.RecommendScript):
            detail = {"script": action.script}
        if task is not None:
            s.add(task)
            await s.flush()
            audit(s, None, "task.created", "task", task.id,
                  {"origin": TaskOrigin.RULE.value, "rule_id": f.rule_id})
            detail["task_id"] = str(task.id)
        firing = RuleFiringRow(
            dedupe_key=key, rule_id=f.rule_id, rule_name=f.rule_name[:200],
            trigger=f.trigger.value, call_id=call.call_id, segment_id=segment_id,
            customer_id=call.customer_id, action=_action_name(action), detail=detail,
            evidence=list(f.evidence), task_id=task.id if task is not None else None,
            fired_at=self._clock.now())
        s.add(firing)
        audit(s, None, "rule.fired", "call", call.call_id,
              {"rule_id": f.rule_id, "action": firing.action, "evidence": list(f.evidence)})
        data = firing_json(firing)
        out.firings.append(data)
        if isinstance(action, r.SuggestScript):
            out.messages.append({"type": "suggestion", "call_id": call.call_id,
                                 "rule_id": f.rule_id, "script": action.script,
                                 "message": detail["message"], "evidence": list(f.evidence),
                                 "segment_id": segment_id, "ts": self._clock.now().timestamp()})
        elif task is not None and task.owner_id == call.agent_id:
            out.messages.append({"type": "task_created", "call_id": call.call_id,
                                 "rule_id": f.rule_id, "task": {
                                     "id": str(task.id), "title": task.title,
                                     "due_at": _iso(task.due_at), "priority": task.priority,
                                     "kind": detail.get("kind")},
                                 "evidence": list(f.evidence),
                                 "ts": self._clock.now().timestamp()})

    def _task(self, call: Call, f: r.RuleFiring, text: r.Text, owner: uuid.UUID | None,
              priority: int, due: datetime | None) -> Task:
        evidence = "; ".join(f.evidence)
        return Task(
            title=text.zh[:200], customer_id=call.customer_id, call_id=call.call_id,
            owner_id=owner, due_at=due, priority=priority, origin=TaskOrigin.RULE.value,
            description=f"{text.en}\n\n[{f.rule_id}] {evidence}"[:4000],
            created_at=self._clock.now(), updated_at=self._clock.now())

    @staticmethod
    async def _set_priority(s: AsyncSession, call: Call, priority: r.Priority) -> dict[str, Any]:
        detail: dict[str, Any] = {"priority": priority.value}
        lead = await s.get(Lead, call.lead_id) if call.lead_id else None
        if lead is not None:
            detail["lead_id"], detail["previous"] = str(lead.id), lead.priority
            lead.priority = LEAD_PRIORITY[priority]
            detail["lead_priority"] = lead.priority
        return detail

    # ---- pushing ---------------------------------------------------------------------------
    def _transcript_message(self, row: TranscriptSegmentRow) -> dict[str, Any]:
        return {"type": "transcript", "call_id": row.call_id, "segment_id": row.segment_id,
                "speaker": row.speaker, "start_s": row.start_s, "end_s": row.end_s,
                "text": row.text, "gap": row.gap, "reason": row.reason,
                "concepts": row.concepts, "sentiment": row.sentiment,
                "ts": self._clock.now().timestamp()}

    def _push(self, agent: str | None, messages: list[dict[str, Any]],
              firings: Sequence[Mapping[str, Any]] = ()) -> None:
        if any(f.get("task_id") for f in firings):
            for listener in self.task_listeners:  # after the commit; in-process, no I/O
                try:
                    listener()
                except Exception:
                    log.exception("task listener failed")
        if agent is None or self.publisher is None:
            return
        for message in messages:
            self.publisher.deliver(agent, message)
            self.pushed += 1


def firing_json(row: RuleFiringRow) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    data.pop("dedupe_key", None)
    return data
