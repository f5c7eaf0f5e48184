"""/api/reports/{campaigns,agents,days} (JSON or CSV), list penetration and recycling.

Managers see their own campaigns only; admins everything.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm.db.models_ops import Campaign
from crm.domain.access import may_manage
from crm.domain.enums import Role
from crm.http.routing import Ctx, Route
from crm.http.views import ok
from crm.services.common import parse_uuid
from crm.services.lists import RECYCLABLE
from crm.services.reports import GroupBy, ReportFilter, report_csv

DEFAULT_DAYS = 7
FIRST_DAY, LAST_DAY = date(1970, 1, 8), date(9998, 12, 30)


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(None, alias="from", ge=FIRST_DAY, le=LAST_DAY,
                               description="first local day (YYYY-MM-DD)")
    to: date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY,
                            description="last local day, inclusive (default: today)")
    campaign_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    format: Literal["json", "csv"] = "json"


class RecycleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: list[str] = Field(min_length=1, max_length=10,
                                description="last outcomes to make dialable again: "
                                + ", ".join(RECYCLABLE))


async def _campaign_scope(ctx: Ctx, campaign_id: uuid.UUID | None) -> list[uuid.UUID] | None:
    """The campaigns the caller may report on (None: all, for admins)."""
    if campaign_id is not None:
        may_manage(ctx.who, await ctx.service.campaigns.get(campaign_id))
        return [campaign_id]
    if ctx.who.is_admin:
        return None
    page = await ctx.service.campaigns.list(manager_id=ctx.who.user_id, limit=500)
    return [c.id for c in page.items]


def _report_handler(group: GroupBy):  # type: ignore[no-untyped-def]
    async def report(ctx: Ctx) -> web.Response:
        q: ReportQuery = ctx.query
        today = ctx.service.clock.now().astimezone(ZoneInfo(ctx.service.settings.timezone)).date()
        end = q.to or today
        start = q.from_ or end - timedelta(days=DEFAULT_DAYS - 1)
        scope = await _campaign_scope(ctx, q.campaign_id)
        rows = await ctx.service.reports.report(
            group, ReportFilter(start, end, scope, q.agent_id))
        if q.format == "csv":
            name = f"dialcrm-{group.value}-{start}-{end}.csv"
            return web.Response(
                text=report_csv(rows), content_type="text/csv", charset="utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return ok({"group_by": group.value, "from": str(start), "to": str(end), "rows": rows})

    report.__name__ = f"report_by_{group.value}"
    return report


async def _managed(ctx: Ctx) -> Campaign:
    campaign = await ctx.service.campaigns.get(
        parse_uuid(ctx.path_param("campaign_id"), "campaign_id"))
    may_manage(ctx.who, campaign)
    return campaign


async def penetration(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    return ok(await ctx.service.lists.penetration(campaign.id))


async def recycle(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    body: RecycleIn = ctx.body
    return ok(await ctx.service.lists.recycle(campaign.id, body.outcomes,
                                              actor_id=ctx.who.user_id))


M = (Role.MANAGER,)
_CSV = {200: "JSON {group_by, from, to, rows}; with format=csv, text/csv with a header row"}
ROUTES = [
    *(Route("GET", f"/api/reports/{path}", _report_handler(group),
            f"Calls, connects, talk/wrap time, dispositions, sales, abandon rate per {group.value}",
            "reports", M, query=ReportQuery, responses=_CSV)
      for path, group in (("campaigns", GroupBy.CAMPAIGN), ("agents", GroupBy.AGENT),
                          ("days", GroupBy.DAY))),
    Route("GET", "/api/campaigns/{campaign_id}/penetration", penetration,
          "List penetration: dialed / contacted / remaining by reason", "leads", M),
    Route("POST", "/api/campaigns/{campaign_id}/recycle", recycle,
          "Make leads with the chosen last outcomes dialable again (audited)", "leads", M,
          body=RecycleIn),
]
