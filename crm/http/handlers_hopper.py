"""The dialer's hopper over HTTP (for a dialer running on another machine):
claim due leads, release them, record an attempt's outcome."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm.domain.callbacks import ClaimFor
from crm.domain.enums import AttemptOutcome, Role
from crm.http.routing import Ctx, Route
from crm.http.views import ok
from crm.ports import LeadView
from crm.services.common import parse_uuid

DIALER = (Role.DIALER,)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClaimIn(_In):
    worker: str = Field(min_length=1, max_length=128)
    limit: int = Field(10, ge=1, le=500)
    ttl_seconds: int = Field(300, ge=10, le=3600)
    owners: list[str] = Field(default_factory=list, max_length=500)  # personal callbacks of
    present: list[str] = Field(default_factory=list, max_length=5000)  # agents logged in
    grace_minutes: float = Field(30, ge=0, le=1440)


class ReleaseIn(_In):
    worker: str = Field(min_length=1, max_length=128)
    lead_ids: list[str] = Field(max_length=500)


class AttemptIn(_In):
    outcome: AttemptOutcome
    worker: str | None = Field(None, max_length=128)
    call_id: str | None = Field(None, max_length=128)
    disposition: str | None = Field(None, max_length=64)
    callback_at: datetime | None = None
    callback_owner: str | None = Field(None, max_length=64)


class AbandonsQuery(_In):
    since: datetime


class SupervisorTodoIn(_In):
    key: str = Field(min_length=1, max_length=200)
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    evidence: list[str] = Field(default_factory=list, max_length=20)


def lead_json(view: LeadView) -> dict[str, Any]:
    data = dataclasses.asdict(view)
    for key, value in data.items():
        if hasattr(value, "isoformat"):
            data[key] = value.isoformat()
        elif value is not None and not isinstance(value, int | float | str | dict):
            data[key] = str(value)
    return data


async def claim(ctx: Ctx) -> web.Response:
    body: ClaimIn = ctx.body
    campaign_id = parse_uuid(ctx.path_param("campaign_id"), "campaign_id")
    who = ClaimFor(tuple(body.owners), tuple(body.present),
                   timedelta(minutes=body.grace_minutes))
    views = await ctx.service.claim_leads(campaign_id, body.worker, body.limit,
                                          timedelta(seconds=body.ttl_seconds), who)
    return ok({"items": [lead_json(v) for v in views]})


async def release(ctx: Ctx) -> web.Response:
    body: ReleaseIn = ctx.body
    ids = [parse_uuid(i, "lead_ids") for i in body.lead_ids]
    return ok({"released": await ctx.service.unlock_leads(ids, body.worker)})


async def attempt(ctx: Ctx) -> web.Response:
    body: AttemptIn = ctx.body
    lead_id = parse_uuid(ctx.path_param("lead_id"), "lead_id")
    view = await ctx.service.record_attempt(
        lead_id, body.outcome, worker=body.worker, call_id=body.call_id,
        disposition=body.disposition, callback_at=body.callback_at,
        callback_owner=body.callback_owner)
    return ok(lead_json(view))


async def abandons(ctx: Ctx) -> web.Response:
    q: AbandonsQuery = ctx.query
    campaign_id = parse_uuid(ctx.path_param("campaign_id"), "campaign_id")
    answered, abandoned = await ctx.service.abandon_counts(campaign_id, q.since)
    return ok({"answered": answered, "abandoned": abandoned})


async def supervisor_todo(ctx: Ctx) -> web.Response:
    body: SupervisorTodoIn = ctx.body
    campaign_id = parse_uuid(ctx.path_param("campaign_id"), "campaign_id")
    task_id = await ctx.service.supervisor_alert(
        campaign_id, body.key, {"zh": body.title_zh, "en": body.title_en}, body.evidence)
    return ok({"task_id": str(task_id) if task_id else None})


ROUTES = [
    Route("POST", "/api/campaigns/{campaign_id}/hopper/claim", claim,
          "Claim due, eligible leads for a dialer worker (locked for ttl_seconds)", "hopper",
          DIALER, body=ClaimIn),
    Route("POST", "/api/hopper/release", release, "Release leads a worker will not dial",
          "hopper", DIALER, body=ReleaseIn),
    Route("POST", "/api/leads/{lead_id}/attempts", attempt,
          "Record a dial attempt's outcome; schedules the retry or callback", "hopper", DIALER,
          body=AttemptIn),
    Route("GET", "/api/campaigns/{campaign_id}/abandons", abandons,
          "Live answers and abandons of a campaign's calls since a time (the dialer's abandon "
          "brake)", "hopper", DIALER, query=AbandonsQuery),
    Route("POST", "/api/campaigns/{campaign_id}/supervisor-todo", supervisor_todo,
          "A to-do for the campaign's manager from the dialer (e.g. an abandon alarm); "
          "idempotent by key", "hopper", DIALER, body=SupervisorTodoIn),
]
