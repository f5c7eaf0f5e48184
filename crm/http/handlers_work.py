"""/api/calls (the dialer's push), recordings, and /api/tasks."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from crm.db.models import Call
from crm.domain.access import Principal, may_see_call, may_see_task
from crm.domain.enums import Role
from crm.errors import InvalidInputError, PermissionDeniedError
from crm.http import schemas as sc
from crm.http.routing import Ctx, Route, bounded_chunks
from crm.http.views import ok, page_json, row
from crm.services.common import parse_uuid
from crm.services.recordings import MAX_RECORDING, public_recording_url, recording_json
from crm.services.work import TaskChanges, TaskInput


async def post_call_event(ctx: Ctx) -> web.Response:
    result = await ctx.service.calls.ingest(ctx.body)
    body = {
        "created": result.created,
        "duplicate": not result.created,
        "call_id": result.call_id,
        "event_id": result.event_id,
    }
    return ok(body, 201 if result.created else 200)


def _agent_scope(p: Principal, requested: uuid.UUID | None) -> uuid.UUID | None:
    """Agents only ever see their own records."""
    if p.role is Role.AGENT:
        if requested is not None and requested != p.user_id:
            raise PermissionDeniedError("agents see only their own records")
        return p.user_id
    return requested


async def list_calls(ctx: Ctx) -> web.Response:
    q: sc.CallQuery = ctx.query
    page = await ctx.service.calls.list(
        customer_id=q.customer_id,
        campaign_id=q.campaign_id,
        agent_id=_agent_scope(ctx.who, q.agent_id),
        manager_id=ctx.who.user_id if ctx.who.role is Role.MANAGER else None,
        limit=q.limit,
        offset=q.offset,
    )
    return ok(page_json(page, call_json))


def call_json(call: Call) -> dict[str, Any]:
    return {**row(call), "recording_url": public_recording_url(call)}


async def get_call(ctx: Ctx) -> web.Response:
    call, events = await ctx.service.calls.get(ctx.path_param("call_id"))
    may_see_call(ctx.who, await ctx.service.access.call(call.call_id))
    return ok({**call_json(call), "events": [row(e) for e in events]})


async def put_recording(ctx: Ctx) -> web.Response:
    """The body is streamed into the encrypted store (never held whole in memory)."""
    request = ctx.request
    if request.content_length == 0 or not request.can_read_body:
        raise InvalidInputError("body", "empty recording")
    duration = request.query.get("duration_seconds")
    try:
        seconds = float(duration) if duration else None
    except ValueError:
        raise InvalidInputError("duration_seconds", "not a number") from None
    if seconds is not None and not 0 <= seconds < 1e7:
        raise InvalidInputError("duration_seconds", "out of range")
    rec = await ctx.service.recordings.store(
        ctx.path_param("call_id"),
        bounded_chunks(request, MAX_RECORDING),  # 413 past the limit, chunked bodies too
        duration_seconds=seconds,
        content_type=request.content_type or "application/octet-stream",
        actor_id=ctx.who.user_id,
    )
    return ok(recording_json(rec), 201)


async def list_tasks(ctx: Ctx) -> web.Response:
    q: sc.TaskQuery = ctx.query
    page = await ctx.service.work.list_tasks(
        owner_id=_agent_scope(ctx.who, q.owner_id),
        customer_id=q.customer_id,
        status=q.status,
        due_before=q.due_before,
        limit=q.limit,
        offset=q.offset,
    )
    names = await ctx.service.desk.customer_names(t.customer_id for t in page.items)
    return ok(page_json(page, lambda t: {**row(t), "customer_name": names.get(t.customer_id)}))


async def create_task(ctx: Ctx) -> web.Response:
    b: sc.TaskIn = ctx.body
    owner = b.owner_id
    if ctx.who.role is Role.AGENT:
        owner = _agent_scope(ctx.who, owner)
    task = await ctx.service.work.create_task(
        TaskInput(
            title=b.title,
            customer_id=b.customer_id,
            owner_id=owner,
            due_at=b.due_at,
            priority=b.priority,
            description=b.description,
            call_id=b.call_id,
        ),
        actor_id=ctx.who.user_id,
    )
    return ok(row(task), 201)


async def get_task(ctx: Ctx) -> web.Response:
    task = await ctx.service.work.get_task(parse_uuid(ctx.path_param("task_id"), "task_id"))
    may_see_task(ctx.who, *await ctx.service.access.task(task.id))
    return ok(row(task))


async def patch_task(ctx: Ctx) -> web.Response:
    b: sc.TaskPatch = ctx.body
    task_id = parse_uuid(ctx.path_param("task_id"), "task_id")
    task = await ctx.service.work.get_task(task_id)
    may_see_task(ctx.who, *await ctx.service.access.task(task.id))
    if ctx.who.role is Role.AGENT and "owner_id" in b.model_fields_set:
        _agent_scope(ctx.who, b.owner_id)
    changes = TaskChanges(
        **{k: getattr(b, k) for k in b.model_fields_set}, fields_set=frozenset(b.model_fields_set)
    )
    return ok(row(await ctx.service.work.update_task(task_id, changes, actor_id=ctx.who.user_id)))


DIALER = (Role.DIALER,)
HUMANS = (Role.AGENT, Role.MANAGER)
ROUTES = [
    Route(
        "POST",
        "/api/calls",
        post_call_event,
        "Push a call event (idempotent by event_id; events may arrive out of order)",
        "calls",
        DIALER,
        body=sc.CallEventIn,
        body_validated_by_handler=True,
        responses={201: "stored", 200: "duplicate event_id: already had it"},
    ),
    Route(
        "GET",
        "/api/calls",
        list_calls,
        "List calls (agents: their own)",
        "calls",
        (*HUMANS, Role.DIALER),
        query=sc.CallQuery,
    ),
    Route(
        "GET",
        "/api/calls/{call_id}",
        get_call,
        "A call with its events",
        "calls",
        (*HUMANS, Role.DIALER),
    ),
    Route(
        "PUT",
        "/api/calls/{call_id}/recording",
        put_recording,
        "Upload the call's recording (raw bytes; ?duration_seconds=)",
        "calls",
        DIALER,
        raw_body_types=("audio/wav", "application/octet-stream"),
        responses={201: "stored"},
    ),
    Route(
        "GET",
        "/api/tasks",
        list_tasks,
        "List tasks (agents: their own)",
        "tasks",
        HUMANS,
        query=sc.TaskQuery,
    ),
    Route(
        "POST",
        "/api/tasks",
        create_task,
        "Create a task",
        "tasks",
        HUMANS,
        body=sc.TaskIn,
        responses={201: "created"},
    ),
    Route("GET", "/api/tasks/{task_id}", get_task, "Get a task", "tasks", HUMANS),
    Route(
        "PATCH",
        "/api/tasks/{task_id}",
        patch_task,
        "Update / complete a task",
        "tasks",
        HUMANS,
        body=sc.TaskPatch,
    ),
]
