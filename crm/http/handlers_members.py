"""Campaign membership and extension binding (issue 17 item 7): a campaign's manager (or an
admin) adds and removes the agents who may log into its dialing; the SIP extensions an agent's
login may use are bound by an admin, by the agent's managers, or by a manager for themselves."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.db.models_ops import Campaign
from crm.domain.access import may_manage, may_manage_agent
from crm.domain.enums import Role
from crm.errors import PermissionDeniedError
from crm.http.routing import Ctx, Route
from crm.http.views import ok
from crm.services.common import parse_uuid
from crm.services.members import MAX_EXTENSIONS

MANAGERS = (Role.MANAGER,)
EXTENSION = r"^\d{2,8}$"  # as POST /api/agent/login takes it


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MemberIn(_In):
    username: str = Field(min_length=1, max_length=64, description="an agent's (or manager's)")


class ExtensionsIn(_In):
    extensions: list[Annotated[str, StringConstraints(pattern=EXTENSION)]] = Field(
        max_length=MAX_EXTENSIONS,
        description="every SIP extension bound to the user (the others are unbound); [] unbinds")


async def _managed(ctx: Ctx) -> Campaign:
    campaign = await ctx.service.campaigns.get(
        parse_uuid(ctx.path_param("campaign_id"), "campaign_id"))
    may_manage(ctx.who, campaign)
    return campaign


async def list_members(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    return ok({"campaign_id": str(campaign.id),
               "items": await ctx.service.members.in_campaign(campaign.id)})


async def add_member(ctx: Ctx) -> web.Response:
    body: MemberIn = ctx.body
    campaign = await _managed(ctx)
    return ok(await ctx.service.members.add(campaign.id, body.username, ctx.who.user_id), 201)


async def remove_member(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    await ctx.service.members.remove(campaign.id, ctx.path_param("username")[:64],
                                     ctx.who.user_id)
    return ok({"campaign_id": str(campaign.id), "username": ctx.path_param("username"),
               "removed": True})


async def bind_extensions(ctx: Ctx) -> web.Response:
    body: ExtensionsIn = ctx.body
    username = ctx.path_param("username")[:64]
    target_id, role = await ctx.service.members.desk_user(username)
    who = ctx.who
    if not (who.is_admin or target_id == who.user_id):
        if role != Role.AGENT.value:
            raise PermissionDeniedError("only an admin binds another manager's extensions",
                                        details={"entity": "agent"})
        may_manage_agent(who, await ctx.service.access.agent(target_id))
    return ok(await ctx.service.members.bind(username, body.extensions, who.user_id))


ROUTES = [
    Route("GET", "/api/campaigns/{campaign_id}/members", list_members,
          "The campaign's members (who may log into its dialing), with their extensions",
          "campaigns", MANAGERS),
    Route("POST", "/api/campaigns/{campaign_id}/members", add_member,
          "Add an agent (or a manager) to the campaign", "campaigns", MANAGERS, body=MemberIn,
          responses={201: "added", 409: "already a member"}),
    Route("DELETE", "/api/campaigns/{campaign_id}/members/{username}", remove_member,
          "Remove a member from the campaign", "campaigns", MANAGERS),
    Route("PUT", "/api/agents/{username}/extensions", bind_extensions,
          "Bind the SIP extensions the user may log in with (replaces the set)", "agents",
          MANAGERS, body=ExtensionsIn,
          responses={200: "bound", 409: "an extension is bound to another user"}),
]
