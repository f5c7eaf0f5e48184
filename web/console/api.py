"""The manager console's API: campaigns with their live status, every setting editable, start /
pause / stop, and the dialing mode switched live. Managers (their own campaigns) and admins.

The CRM keeps the settings (:mod:`crm.services.dialing`: validated, audited with before and
after); this adapter turns them into the dialer's ``CampaignConfig`` and applies a change to a
running campaign at once (the mode through ``Dialer.set_mode``, which withdraws preview offers;
the rest through ``Dialer.start_campaign``, which reconfigures a running campaign).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import CampaignNotFound
from ari_app.dialer.model import CampaignConfig
from crm.domain.access import ManagedCampaign, may_manage
from crm.domain.dialing_settings import CONFIG_FIELDS, RECONFIGURED
from crm.domain.enums import CampaignStatus, Role
from crm.errors import InvalidInputError
from crm.http import schemas as sc
from crm.http.routing import Ctx, Route
from crm.service import CrmService
from crm.services import campaigns as campaign_rules
from crm.services.common import parse_uuid
from crm.services.dialing import DIALING_FIELDS, campaign_fields, check_dialing
from web.appkeys import DIALER_KEY
from web.http import dialer_errors, settings_model

MANAGERS = (Role.MANAGER,)
NULLABLE = frozenset({"retention_days"})  # None: keep recordings forever


DialingPatch = settings_model(
    "DialingPatch", DIALING_FIELDS, fill="none",
    doc="How a campaign dials (crm.domain.dialing_settings); each field optional.")


class SettingsPatch(sc.CampaignPatch, DialingPatch):  # type: ignore[misc,valid-type]
    """Every console setting, flat: the CRM campaign's fields and how it dials."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SettingsIn(SettingsPatch):
    name: str = Field(min_length=1, max_length=200)


ModeIn = settings_model("ModeIn", ("mode",), fill="required")


def _split(body: BaseModel, who_is_admin: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    sent = sc.set_fields(body)
    if "status" in sent:
        raise InvalidInputError("status", "use start, pause or stop")
    if "manager_id" in sent and not who_is_admin:
        raise InvalidInputError("manager_id", "only an admin reassigns a campaign")
    for key, value in sent.items():
        if value is None and key not in NULLABLE:
            raise InvalidInputError(key, f"{key} must not be null")
    editable = set(campaign_fields()) | {"manager_id"}
    unknown = [k for k in sent if k not in editable and k not in DIALING_FIELDS]
    if unknown:
        raise InvalidInputError(unknown[0], "not a console setting")
    campaign = {k: v for k, v in sent.items() if k in editable}
    dialing = {k: v for k, v in sent.items() if k in DIALING_FIELDS}
    return campaign, dialing


def config_of(campaign: dict[str, Any], dialing: dict[str, Any]) -> CampaignConfig:
    values = {k: dialing[k] for k in CONFIG_FIELDS}
    return CampaignConfig(campaign["id"], name=campaign["name"], **values)


def _dialer(ctx: Ctx) -> Dialer:
    return ctx.request.app[DIALER_KEY]


async def _managed(ctx: Ctx) -> ManagedCampaign:
    campaign = await ctx.service.campaigns.get(
        parse_uuid(ctx.path_param("campaign_id"), "campaign_id"))
    may_manage(ctx.who, campaign)
    return campaign


def live_status(dialer: Dialer | None) -> dict[str, dict[str, Any]]:
    if dialer is None:
        return {}
    snap = dialer.snapshot()
    agents: dict[str, int] = {}
    for a in snap.agents:
        agents[a.campaign_id] = agents.get(a.campaign_id, 0) + 1
    return {c.campaign_id: {**c.as_json(), "agents": agents.get(c.campaign_id, 0)}
            for c in snap.campaigns if c.running}


WINDOWS = {"30d": timedelta(days=30), "24h": timedelta(hours=24)}


async def with_regulatory(service: CrmService, items: list[dict[str, Any]]) -> None:
    """Add each campaign's abandon rate over its regulatory window (30 days or 24 hours, from
    the CRM's call records) against its target: ``item["regulatory"]``."""
    now = service.clock.now()
    for window, span in WINDOWS.items():
        chosen = [i for i in items if i["dialing"]["abandon_window"] == window]
        if not chosen:
            continue
        rates = await service.reports.abandon_rates(
            [uuid.UUID(i["campaign"]["id"]) for i in chosen], now - span)
        for item in chosen:
            rate = rates[item["campaign"]["id"]]
            target = item["dialing"]["abandon_target"]
            item["regulatory"] = {**rate, "window": window, "target": target,
                                  "over_target": rate["rate"] is not None
                                  and rate["rate"] > target}


async def campaign_views(service: CrmService, dialer: Dialer | None,
                         campaigns: Sequence[ManagedCampaign]) -> list[dict[str, Any]]:
    """Settings, live dialing status and the regulatory abandon rate of each campaign."""
    live = live_status(dialer)
    items = []
    for c in campaigns:
        settings = await service.dialing.get(c.id)
        items.append({**settings, "live": live.get(str(c.id)), "running": str(c.id) in live})
    await with_regulatory(service, items)
    return items


async def _view(ctx: Ctx, campaign_id: uuid.UUID) -> dict[str, Any]:
    campaign = await ctx.service.campaigns.get(campaign_id)
    views = await campaign_views(ctx.service, ctx.request.app.get(DIALER_KEY), [campaign])
    return views[0]


async def list_campaigns(ctx: Ctx) -> web.Response:
    manager = None if ctx.who.is_admin else ctx.who.user_id
    page = await ctx.service.campaigns.list(manager_id=manager, limit=500)
    items = await campaign_views(ctx.service, ctx.request.app.get(DIALER_KEY), list(page.items))
    return web.json_response({"items": items, "total": page.total})


async def get_campaign(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    return web.json_response(await _view(ctx, campaign.id))


async def create_campaign(ctx: Ctx) -> web.Response:
    body: SettingsIn = ctx.body
    values, dialing = _split(body, ctx.who.is_admin)
    check_dialing(dialing)  # every check before anything is written
    campaign_rules._check_campaign_values(dict(values))
    if values.get("window_start", "09:00") == values.get("window_end", "21:00"):
        raise InvalidInputError("window_end", "the calling window is empty (start = end)")
    values.setdefault("manager_id", ctx.who.user_id)
    campaign = await ctx.service.campaigns.create(
        {"name": values.pop("name"), "manager_id": values.pop("manager_id")},
        actor_id=ctx.who.user_id)
    await ctx.service.dialing.update(campaign.id, values, dialing, actor_id=ctx.who.user_id)
    return web.json_response(await _view(ctx, campaign.id), status=201)


async def update_campaign(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    values, dialing = _split(ctx.body, ctx.who.is_admin)
    result = await ctx.service.dialing.update(campaign.id, values, dialing,
                                              actor_id=ctx.who.user_id)
    applied = await _apply_live(ctx, result)
    return web.json_response({**await _view(ctx, campaign.id), "changed": result["changed"],
                              "applied_live": applied})


async def _apply_live(ctx: Ctx, result: dict[str, Any]) -> bool:
    """Give a running campaign its new settings now; False when it is not running."""
    dialer = ctx.request.app.get(DIALER_KEY)
    campaign_id = result["campaign"]["id"]
    if dialer is None or campaign_id not in dialer.runners:
        return False
    changed = set(result["changed"])
    if "mode" in changed:
        await dialer.set_mode(campaign_id, result["dialing"]["mode"])
    if changed & RECONFIGURED or "name" in changed:
        await dialer.start_campaign(config_of(result["campaign"], result["dialing"]))
    return True


async def set_mode(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    result = await ctx.service.dialing.update(campaign.id, {}, {"mode": ctx.body.mode},
                                              actor_id=ctx.who.user_id)
    applied = await _apply_live(ctx, result)
    return web.json_response({**await _view(ctx, campaign.id), "applied_live": applied})


async def _set_status(ctx: Ctx, campaign: ManagedCampaign, status: CampaignStatus) -> None:
    await ctx.service.dialing.update(campaign.id, {"status": status.value}, {},
                                     actor_id=ctx.who.user_id)


async def start(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    settings = await ctx.service.dialing.get(campaign.id)
    config = config_of(settings["campaign"], settings["dialing"])  # may refuse: 400
    await _set_status(ctx, campaign, CampaignStatus.ACTIVE)
    await _dialer(ctx).start_campaign(config)
    return web.json_response(await _view(ctx, campaign.id))


async def _halt(ctx: Ctx, status: CampaignStatus) -> web.Response:
    campaign = await _managed(ctx)
    try:
        await _dialer(ctx).stop_campaign(str(campaign.id))
    except CampaignNotFound:
        pass  # not dialing here: the status change is all there is to do
    await _set_status(ctx, campaign, status)
    return web.json_response(await _view(ctx, campaign.id))


async def pause(ctx: Ctx) -> web.Response:
    return await _halt(ctx, CampaignStatus.PAUSED)


async def stop(ctx: Ctx) -> web.Response:
    return await _halt(ctx, CampaignStatus.ARCHIVED)


def console_routes() -> list[Route]:
    def r(method: str, path: str, handler: Any, summary: str,
          body: type[BaseModel] | None = None, **extra: Any) -> Route:
        return Route(method, path, dialer_errors(handler), summary, "console", MANAGERS, body=body,
                     **extra)

    base = "/api/console/campaigns"
    return [
        r("GET", base, list_campaigns, "Campaigns with their settings and live dialing status"),
        r("POST", base, create_campaign, "Create a campaign with its dialing settings",
          SettingsIn, responses={201: "created"}),
        r("GET", base + "/{campaign_id}", get_campaign, "A campaign's settings and live status"),
        r("PATCH", base + "/{campaign_id}", update_campaign,
          "Change settings (validated, audited, applied live when running)", SettingsPatch),
        r("POST", base + "/{campaign_id}/mode", set_mode,
          "Switch the dialing mode (live when running; persisted)", ModeIn),
        r("POST", base + "/{campaign_id}/start", start, "Start dialing with the saved settings"),
        r("POST", base + "/{campaign_id}/pause", pause, "Stop dialing; status paused"),
        r("POST", base + "/{campaign_id}/stop", stop, "Stop dialing; status archived"),
    ]
