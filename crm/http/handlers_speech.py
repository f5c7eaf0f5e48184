"""/api/calls/{call_id}/transcript (the dialer's push, the transcript), /api/rules (workflow
rules in the database), /api/rule-firings (the audit) and /api/supervisor/todo."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm.domain.access import require_owner_or
from crm.domain.enums import Role
from crm.http._route import Ctx, Route
from crm.http.views import ok
from crm.services.transcripts import segment_json


class TranscriptSegmentIn(BaseModel):
    """One recognised utterance, or a gap marker (``gap: true`` + ``reason``)."""

    model_config = ConfigDict(extra="forbid")
    segment_id: str = Field(min_length=1, max_length=128, description="idempotency key (per call)")
    speaker: Literal["customer", "agent"]
    start_s: float = Field(ge=0, description="seconds from the start of the call")
    end_s: float = Field(ge=0)
    text: str | None = Field(None, max_length=10_000, description="required unless gap")
    confidence: float | None = Field(None, ge=0, le=1)
    language: str | None = Field(None, max_length=16)
    gap: bool = False
    reason: str | None = Field(None, max_length=200, description="why audio is missing (gap)")


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
    require_owner_or(ctx.who, call.agent_id if call is not None else None, Role.MANAGER)
    return ok(
        {
            "call_id": call_id,
            "call_known": call is not None,
            "agent_id": str(call.agent_id) if call is not None and call.agent_id else None,
            "segments": [segment_json(r) for r in rows],
        }
    )


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
]
