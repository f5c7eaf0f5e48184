"""/api/calls/{call_id}/transcript (the dialer's push, the transcript), /api/rules (workflow
rules in the database), /api/rule-firings (the audit) and /api/supervisor/todo."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm.domain.access import may_change_owned, may_see_call
from crm.domain.enums import Role
from crm.errors import InvalidInputError
from crm.http.routing import Ctx, Route, read_bounded
from crm.http.views import ok, page_json, row
from crm.services.common import MAX_PAGE
from crm.services.live_rules import firing_json
from crm.services.transcripts import segment_json

MANAGERS = (Role.MANAGER,)
MAX_RULES_YAML = 512 * 1024


class TranscriptSegmentIn(BaseModel):
    """One recognised utterance, or a gap marker (``gap: true`` + ``reason``)."""

    model_config = ConfigDict(extra="forbid")
    segment_id: str = Field(min_length=1, max_length=255, description="idempotency key (per call)")
    speaker: Literal["customer", "agent"]
    start_s: float = Field(ge=0, description="seconds from the start of the call")
    end_s: float = Field(ge=0)
    text: str | None = Field(None, max_length=10_000, description="required unless gap")
    confidence: float | None = Field(None, ge=0, le=1)
    language: str | None = Field(None, max_length=16)
    gap: bool = False
    reason: str | None = Field(None, max_length=200, description="why audio is missing (gap)")


class RuleIn(BaseModel):
    """A workflow rule (see ``crm/rules/parser.py``); validated against the lexicon."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    trigger: Literal["pre_call", "in_call", "post_call"]
    name: str | None = None
    when: dict[str, Any] | None = None
    actions: list[dict[str, Any]]
    priority: int = 100
    enabled: bool = True
    once_per_call: bool = False
    stop: bool = False


class RuleQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger: Literal["pre_call", "in_call", "post_call"] | None = None


class FiringQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: str | None = Field(None, max_length=128)
    rule_id: str | None = Field(None, max_length=64)
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class TodoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "done", "cancelled", "all"] = "open"
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replace: bool = Field(False, description="delete the rules the document does not name")


async def post_transcript_segment(ctx: Ctx) -> web.Response:
    result = await ctx.service.transcripts.add(ctx.path_param("call_id"), ctx.body)
    body: dict[str, Any] = {
        "created": result.created,
        "duplicate": not result.created,
        "processed": result.processed,
        "segment": segment_json(result.segment),
        "firings": result.firings,
    }
    return ok(body, 201 if result.created else 200)


async def get_transcript(ctx: Ctx) -> web.Response:
    call_id = ctx.path_param("call_id")
    call, rows = await ctx.service.transcripts.transcript(call_id)
    may_see_call(ctx.who, await ctx.service.access.call(call_id))
    return ok(
        {
            "call_id": call_id,
            "call_known": call is not None,
            "agent_id": str(call.agent_id) if call is not None and call.agent_id else None,
            "segments": [segment_json(r) for r in rows],
        }
    )


async def list_rules(ctx: Ctx) -> web.Response:
    q: RuleQuery = ctx.query
    rows = await ctx.service.rules.list(q.trigger)
    return ok({"items": [row(r) for r in rows], "total": len(rows)})


async def get_rule(ctx: Ctx) -> web.Response:
    return ok(row(await ctx.service.rules.get(ctx.path_param("rule_id"))))


async def create_rule(ctx: Ctx) -> web.Response:
    created = await ctx.service.rules.create(ctx.body, actor_id=ctx.who.user_id)
    return ok(row(created), 201)


async def _own_rule(ctx: Ctx) -> None:
    """A rule changes by its owner (no owner, e.g. a packaged default: admins)."""
    rule = await ctx.service.rules.get(ctx.path_param("rule_id"))
    may_change_owned(ctx.who, rule.owner_id, "rule")


async def put_rule(ctx: Ctx) -> web.Response:
    await _own_rule(ctx)
    updated = await ctx.service.rules.update(
        ctx.path_param("rule_id"), ctx.body, actor_id=ctx.who.user_id)
    return ok(row(updated))


async def delete_rule(ctx: Ctx) -> web.Response:
    await _own_rule(ctx)
    await ctx.service.rules.delete(ctx.path_param("rule_id"), actor_id=ctx.who.user_id)
    return web.Response(status=204)


async def import_rules(ctx: Ctx) -> web.Response:
    q: ImportQuery = ctx.query
    raw = await read_bounded(ctx.request, MAX_RULES_YAML)  # counted as it streams (chunked too)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("body", "the document must be UTF-8 text") from None
    if not text.strip():
        raise InvalidInputError("body", "empty rules document")
    rows = await ctx.service.rules.import_yaml(text, replace=q.replace, actor_id=ctx.who.user_id,
                                               who=ctx.who)
    return ok({"imported": [r.id for r in rows], "replace": q.replace})


async def list_firings(ctx: Ctx) -> web.Response:
    q: FiringQuery = ctx.query
    page = await ctx.service.rule_audit.firings(
        call_id=q.call_id, rule_id=q.rule_id, limit=q.limit, offset=q.offset)
    return ok(page_json(page, firing_json))


async def get_analysis(ctx: Ctx) -> web.Response:
    call_id = ctx.path_param("call_id")
    await ctx.service.calls.get(call_id)  # 404 for an unknown call
    may_see_call(ctx.who, await ctx.service.access.call(call_id))
    return ok(row(await ctx.service.rule_audit.analysis(call_id)))


async def supervisor_todo(ctx: Ctx) -> web.Response:
    q: TodoQuery = ctx.query
    who = ctx.who
    page = await ctx.service.rule_audit.supervisor_todo(
        owner_id=None if who.is_admin else who.user_id, include_unowned=True,
        status=None if q.status == "all" else q.status, limit=q.limit, offset=q.offset)
    items = [{**row(task), "rule_id": f.rule_id, "call_id": f.call_id, "evidence": f.evidence}
             for task, f in page.items]
    return ok({"items": items, "total": page.total, "limit": page.limit, "offset": page.offset})


ROUTES = [
    Route(
        "POST",
        "/api/calls/{call_id}/transcript",
        post_transcript_segment,
        "Push one transcript segment or gap marker (idempotent by segment_id; the call's "
        "events may come later)",
        "speech",
        (Role.DIALER,),
        body=TranscriptSegmentIn,
        body_validated_by_handler=True,
        responses={201: "stored", 200: "duplicate segment_id: already had it"},
    ),
    Route(
        "GET",
        "/api/calls/{call_id}/transcript",
        get_transcript,
        "The call's transcript (the call's agent, managers, admin)",
        "speech",
        (Role.AGENT, Role.MANAGER),
    ),
    Route(
        "GET",
        "/api/calls/{call_id}/analysis",
        get_analysis,
        "The call's post-call analysis: sentiment, intent score 0-10 and its factors",
        "speech",
        (Role.AGENT, Role.MANAGER),
    ),
    Route("GET", "/api/rules", list_rules, "List the workflow rules", "rules", MANAGERS,
          query=RuleQuery),
    Route("POST", "/api/rules", create_rule, "Create a workflow rule (400 names the bad field)",
          "rules", MANAGERS, body=RuleIn, body_validated_by_handler=True,
          responses={201: "created"}),
    Route("POST", "/api/rules/import", import_rules,
          "Load rules from a YAML document (upsert; ?replace=true drops the others the caller "
          "owns; managers: an existing rule must be theirs); errors name the line and the "
          "field", "rules", MANAGERS, query=ImportQuery,
          raw_body_types=("application/yaml", "text/yaml", "text/plain")),
    Route("GET", "/api/rules/{rule_id}", get_rule, "A workflow rule", "rules", MANAGERS),
    Route("PUT", "/api/rules/{rule_id}", put_rule,
          "Replace a workflow rule (its owner; admins: all, and the unowned defaults)", "rules",
          MANAGERS, body=RuleIn, body_validated_by_handler=True,
          responses={200: "replaced", 403: "not your rule"}),
    Route("DELETE", "/api/rules/{rule_id}", delete_rule,
          "Delete a workflow rule (its owner; admins: all)", "rules",
          MANAGERS, responses={204: "deleted", 403: "not your rule"}),
    Route("GET", "/api/rule-firings", list_firings,
          "The audit of rule firings (rule, call, evidence, result)", "rules", MANAGERS,
          query=FiringQuery),
    Route("GET", "/api/supervisor/todo", supervisor_todo,
          "The supervisor's to-do list: high-intent customers and other supervisor_todo "
          "firings (managers: theirs and unowned; admin: all)", "rules", MANAGERS,
          query=TodoQuery),
]
