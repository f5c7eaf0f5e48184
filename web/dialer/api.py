"""The dialer's HTTP API, as routes in the CRM's route table (same auth, same OpenAPI).

Agents act on themselves (``agent_id`` is their CRM username); managers run
campaigns. Dialer errors become ``{"error", "message", "details"}`` JSON here.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, Field

from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import (
    InvalidRequest,
)
from ari_app.dialer.model import CampaignConfig
from ari_app.dialer.ports import Lead
from crm.domain.access import ManagedCampaign, may_join_campaign, may_manage, may_use_extension
from crm.domain.callbacks import CallbackScope
from crm.domain.dialing_settings import DIALER_FIELDS
from crm.domain.enums import Role
from crm.http.routing import Ctx, Route
from web.appkeys import DIALER_KEY, PBX_KEY
from web.http import Handler, StrictIn, dialer_errors, settings_model

AGENTS = (Role.AGENT, Role.MANAGER)
MANAGERS = (Role.MANAGER,)


class LoginIn(StrictIn):
    extension: str = Field(pattern=r"^\d{2,8}$", description="the agent's SIP extension")
    campaign_id: uuid.UUID


class PauseIn(StrictIn):
    pause_code: str = Field(min_length=1, max_length=32, description="e.g. break, lunch, training")


class DispositionIn(StrictIn):
    disposition: str = Field(
        min_length=1, max_length=32,
        description="sale, callback, not_interested, do_not_call, wrong_number")
    callback_at: datetime | None = Field(None, description="ISO 8601 with offset, for callback")
    callback_scope: CallbackScope | None = Field(
        None, description="personal: dialed only for this agent; campaign (default): anyone")
    note: str | None = Field(None, max_length=2000)
    pause_code: str | None = Field(None, min_length=1, max_length=32,
                                   description="pause after this call instead of going ready")


class ManualDialIn(StrictIn):
    campaign_id: uuid.UUID
    number: str | None = Field(None, min_length=3, max_length=32,
                               description="a number typed by the agent (E.164 or national)")
    customer_id: uuid.UUID | None = Field(None, description="dial this customer's first number")
    override_reason: str | None = Field(
        None, min_length=3, max_length=500,
        description="a manager's reason to dial outside the calling window (audited)")


class HoldIn(StrictIn):
    hold: bool = Field(description="true: the customer hears music on hold; false: back")


class MuteIn(StrictIn):
    mute: bool = Field(description="true: the customer stops hearing the agent; false: again")


class SkipIn(StrictIn):
    reason: str = Field(min_length=1, max_length=200)


CampaignRunIn = settings_model(
    "CampaignRunIn", DIALER_FIELDS,
    doc="How the campaign dials (crm.domain.dialing_settings); a field left out: its default.")


class ReloadIn(StrictIn):
    module: str = Field("", max_length=64, description="e.g. res_pjsip.so; empty: everything")


ModeIn = settings_model("ModeIn", ("mode",), fill="required")


def _dialer(ctx: Ctx) -> Dialer:
    return ctx.request.app[DIALER_KEY]


def _agent_view(dialer: Dialer, agent_id: str) -> dict[str, Any]:
    return dialer.agent_view(agent_id).as_json()


async def agent_login(ctx: Ctx) -> web.Response:
    """Only into a campaign one is a member of (its manager, admins: any of theirs), and only
    on an extension bound to oneself (issue 17 item 7): 403 naming the field otherwise."""
    body: LoginIn = ctx.body
    campaign = await ctx.service.campaigns.get(body.campaign_id)
    members = ctx.service.members
    may_join_campaign(ctx.who, campaign,
                      member=await members.is_member(campaign.id, ctx.who.user_id))
    may_use_extension(ctx.who, body.extension, await members.holder(body.extension))
    senior = await ctx.service.agent_skills.seniority(ctx.who.username) == "senior"
    await _dialer(ctx).login(ctx.who.username, body.extension, str(body.campaign_id),
                             senior=senior)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def agent_logout(ctx: Ctx) -> web.Response:
    await _dialer(ctx).logout(ctx.who.username)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def agent_ready(ctx: Ctx) -> web.Response:
    await _dialer(ctx).ready(ctx.who.username)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def agent_pause(ctx: Ctx) -> web.Response:
    await _dialer(ctx).pause(ctx.who.username, ctx.body.pause_code)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def agent_hangup(ctx: Ctx) -> web.Response:
    await _dialer(ctx).hangup_customer(ctx.who.username)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def agent_hold(ctx: Ctx) -> web.Response:
    await _dialer(ctx).hold_customer(ctx.who.username, ctx.body.hold)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def agent_mute(ctx: Ctx) -> web.Response:
    await _dialer(ctx).mute_agent(ctx.who.username, ctx.body.mute)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def agent_disposition(ctx: Ctx) -> web.Response:
    body: DispositionIn = ctx.body
    await _dialer(ctx).dispose(ctx.who.username, body.disposition, callback_at=body.callback_at,
                               note=body.note, pause_code=body.pause_code,
                               callback_scope=body.callback_scope)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def preview_accept(ctx: Ctx) -> web.Response:
    call_id = await _dialer(ctx).accept_preview(ctx.who.username)
    return web.json_response({"call_id": call_id, **_agent_view(_dialer(ctx), ctx.who.username)})


async def preview_skip(ctx: Ctx) -> web.Response:
    await _dialer(ctx).skip_preview(ctx.who.username, ctx.body.reason)
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


async def manual_dial(ctx: Ctx) -> web.Response:
    """Click-to-call for a paused agent: the campaign's DNC and window checks, membership and
    the customer access policy (CRM), then the dialer's own origination path."""
    body: ManualDialIn = ctx.body
    dialer, campaign_id = _dialer(ctx), str(body.campaign_id)
    found = await ctx.service.manual_dial.prepare(
        ctx.who, body.campaign_id, worker=dialer.worker, number=body.number,
        customer_id=body.customer_id, override_reason=body.override_reason)
    try:
        dialer.check_manual_dial(ctx.who.username, campaign_id)
        call_id = await dialer.manual_dial(ctx.who.username, Lead(
            str(found.lead_id), campaign_id, str(found.customer_id), found.e164))
    except Exception:
        await ctx.service.manual_dial.release(found.lead_id, dialer.worker)
        raise
    return web.json_response({"call_id": call_id, "number": found.e164,
                              "customer_id": str(found.customer_id),
                              "window_overridden": found.window_overridden,
                              **_agent_view(dialer, ctx.who.username)})


async def agent_state(ctx: Ctx) -> web.Response:
    return web.json_response(_agent_view(_dialer(ctx), ctx.who.username))


def _campaign_id(ctx: Ctx) -> uuid.UUID:
    try:
        return uuid.UUID(ctx.path_param("campaign_id"))
    except ValueError:
        raise InvalidRequest("campaign_id", "must be a UUID") from None


class NamedCampaign(ManagedCampaign, Protocol):
    name: str


async def _managed(ctx: Ctx) -> NamedCampaign:
    """The path's campaign, when the caller manages it (admins: every campaign)."""
    campaign = await ctx.service.campaigns.get(_campaign_id(ctx))
    may_manage(ctx.who, campaign)
    return campaign


async def campaign_run(ctx: Ctx) -> web.Response:
    campaign = await _managed(ctx)
    config = CampaignConfig(str(campaign.id), name=campaign.name, **ctx.body.model_dump())
    await _dialer(ctx).start_campaign(config)
    return web.json_response(_config_json(config))


async def campaign_stop(ctx: Ctx) -> web.Response:
    campaign_id = str((await _managed(ctx)).id)
    await _dialer(ctx).stop_campaign(campaign_id)
    return web.json_response({"campaign_id": campaign_id, "running": False})


async def campaign_mode(ctx: Ctx) -> web.Response:
    campaign_id = str((await _managed(ctx)).id)
    config = await _dialer(ctx).set_mode(campaign_id, ctx.body.mode)
    return web.json_response(_config_json(config))


async def dialer_status(ctx: Ctx) -> web.Response:
    return web.json_response(_dialer(ctx).snapshot().as_json())


async def asterisk_overview(ctx: Ctx) -> web.Response:
    return web.json_response(await ctx.request.app[PBX_KEY].overview())


async def asterisk_reload(ctx: Ctx) -> web.Response:
    message = await ctx.request.app[PBX_KEY].reload(ctx.body.module)
    return web.json_response({"module": ctx.body.module or "(all)", "message": message})


def _config_json(config: CampaignConfig) -> dict[str, Any]:
    data = asdict(config)
    data["mode"] = config.mode.value
    data["machine_action"] = config.machine_action.value
    data["running"] = True
    return data


def dialer_routes() -> list[Route]:
    def r(method: str, path: str, handler: Handler, summary: str, roles: tuple[Role, ...],
          body: type[BaseModel] | None = None) -> Route:
        return Route(method, path, dialer_errors(handler), summary, "dialer", roles=roles,
                     body=body)

    return [
        r("POST", "/api/agent/login", agent_login,
          "Log in to a campaign one is a member of, on an extension bound to oneself: the "
          "dialer calls that phone and keeps the leg up", AGENTS, LoginIn),
        r("POST", "/api/agent/logout", agent_logout, "Log out (hangs up the agent's leg)", AGENTS),
        r("POST", "/api/agent/ready", agent_ready, "Go ready for calls", AGENTS),
        r("POST", "/api/agent/pause", agent_pause, "Pause with a pause code", AGENTS, PauseIn),
        r("POST", "/api/agent/hangup", agent_hangup, "Hang up the current customer", AGENTS),
        r("POST", "/api/agent/hold", agent_hold,
          "Put one's customer on music on hold, or take them back", AGENTS, HoldIn),
        r("POST", "/api/agent/mute", agent_mute,
          "Mute or unmute one's own audio toward the customer", AGENTS, MuteIn),
        r("POST", "/api/agent/disposition", agent_disposition,
          "Set the disposition in wrap-up (and a callback time)", AGENTS, DispositionIn),
        r("POST", "/api/agent/preview/accept", preview_accept,
          "Preview mode: dial the offered lead", AGENTS),
        r("POST", "/api/agent/preview/skip", preview_skip,
          "Preview mode: skip the offered lead, with a reason", AGENTS, SkipIn),
        r("POST", "/api/agent/manual-dial", manual_dial,
          "Dial a number or a customer by hand while paused (DNC, calling window, membership "
          "and customer access checked; a manager may override the window with a reason)",
          AGENTS, ManualDialIn),
        r("GET", "/api/agent/state", agent_state, "The calling agent's state", AGENTS),
        r("POST", "/api/dialer/campaigns/{campaign_id}/run", campaign_run,
          "Start (or reconfigure) dialing a campaign", MANAGERS, CampaignRunIn),
        r("POST", "/api/dialer/campaigns/{campaign_id}/stop", campaign_stop,
          "Stop dialing a campaign", MANAGERS),
        r("POST", "/api/dialer/campaigns/{campaign_id}/mode", campaign_mode,
          "Switch the dialing mode while it runs", MANAGERS, ModeIn),
        r("GET", "/api/dialer/status", dialer_status,
          "Agents, campaigns, calls in flight, outbox", MANAGERS),
        r("GET", "/api/admin/asterisk", asterisk_overview,
          "Asterisk version, uptime, phone and trunk registrations (AMI)", (Role.ADMIN,)),
        r("POST", "/api/admin/asterisk/reload", asterisk_reload,
          "Reload Asterisk configuration (AMI)", (Role.ADMIN,), ReloadIn),
    ]
