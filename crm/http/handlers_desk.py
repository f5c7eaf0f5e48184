"""/api/callbacks: the callbacks set in wrap-up, for the agent page's list (issue 13 item 9)."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import Field

from crm.domain.enums import Role
from crm.errors import PermissionDeniedError
from crm.http.routing import Ctx, Route
from crm.http.schemas import _In, _Query
from crm.http.views import ok
from crm.services.common import parse_uuid


class CallbackQuery(_Query):
    agent_id: uuid.UUID | None = Field(None, description="managers, admins: one agent's")
    limit: int = Field(50, ge=1, le=500)


async def list_callbacks(ctx: Ctx) -> web.Response:
    """Agents: the callbacks they set; managers: their campaigns'; admins: all."""
    q: CallbackQuery = ctx.query
    agent_id, manager_id = q.agent_id, None
    if ctx.who.role is Role.AGENT:
        if agent_id is not None and agent_id != ctx.who.user_id:
            raise PermissionDeniedError("agents see only their own records")
        agent_id = ctx.who.user_id
    elif not ctx.who.is_admin:
        manager_id = ctx.who.user_id
    owner = ctx.who.username if ctx.who.role is Role.AGENT else None
    items = await ctx.service.desk.callbacks(agent_id=agent_id, manager_id=manager_id,
                                             limit=q.limit, owner=owner)
    return ok({"items": [c.as_json() for c in items], "total": len(items),
               "now": ctx.service.clock.now().isoformat()})


class CallbackOwnerIn(_In):
    owner: str | None = Field(
        description="the agent's username (a personal callback), or null: the campaign's",
        min_length=1, max_length=64)


async def reassign_callback(ctx: Ctx) -> web.Response:
    """A manager (of the lead's campaign) or an admin gives a callback to another agent."""
    body: CallbackOwnerIn = ctx.body
    lead_id = parse_uuid(ctx.path_param("lead_id"), "lead_id")
    done = await ctx.service.desk.reassign_callback(ctx.who, lead_id, body.owner)
    return ok(done.as_json())


ROUTES = [
    Route("GET", "/api/callbacks", list_callbacks,
          "Callbacks waiting (agents: the ones they set), soonest first, overdue marked",
          "tasks", (Role.AGENT, Role.MANAGER), query=CallbackQuery),
    Route("PUT", "/api/leads/{lead_id}/callback-owner", reassign_callback,
          "Give a callback to another agent (personal) or to the campaign (owner null)",
          "tasks", (Role.MANAGER,), body=CallbackOwnerIn),
]
