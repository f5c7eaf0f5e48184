"""/api/dnc: do-not-call entries (global or per campaign)."""

from __future__ import annotations

from aiohttp import web

from crm.domain.enums import Role
from crm.http import schemas as sc
from crm.http.routing import Ctx, Route
from crm.http.views import ok, page_json, row
from crm.services.common import parse_uuid


async def list_dnc(ctx: Ctx) -> web.Response:
    q: sc.DncQuery = ctx.query
    page = await ctx.service.dnc.list(
        campaign_id=q.campaign_id, number=q.number, limit=q.limit, offset=q.offset
    )
    return ok(page_json(page))


async def check_dnc(ctx: Ctx) -> web.Response:
    q: sc.DncCheckQuery = ctx.query
    return ok({"dnc": await ctx.service.is_dnc(q.number, q.campaign_id)})


async def add_dnc(ctx: Ctx) -> web.Response:
    b: sc.DncIn = ctx.body
    entry = await ctx.service.dnc.add(
        b.number, campaign_id=b.campaign_id, reason=b.reason, actor_id=ctx.who.user_id
    )
    return ok(row(entry), 201)


async def delete_dnc(ctx: Ctx) -> web.Response:
    await ctx.service.dnc.remove(
        parse_uuid(ctx.path_param("entry_id"), "entry_id"), actor_id=ctx.who.user_id
    )
    return web.Response(status=204)


M = (Role.MANAGER,)
ALL = (Role.AGENT, Role.MANAGER, Role.DIALER)
ROUTES = [
    Route("GET", "/api/dnc", list_dnc, "List DNC entries", "dnc", M, query=sc.DncQuery),
    Route(
        "GET",
        "/api/dnc/check",
        check_dnc,
        "Is this number on a DNC list?",
        "dnc",
        ALL,
        query=sc.DncCheckQuery,
    ),
    Route(
        "POST",
        "/api/dnc",
        add_dnc,
        "Add a number to the global or a campaign DNC list",
        "dnc",
        ALL,
        body=sc.DncIn,
        responses={201: "created", 409: "already listed"},
    ),
    Route(
        "DELETE",
        "/api/dnc/{entry_id}",
        delete_dnc,
        "Remove a DNC entry (admin)",
        "dnc",
        (),
        responses={204: "removed"},
    ),
]
