"""Supervisor monitoring over HTTP: listen / whisper / barge on a live call (managers, admins).

    POST   /api/dialer/calls/{call_id}/monitor  {"mode": ..., "extension": "1037"}  start or switch
    DELETE /api/dialer/calls/{call_id}/monitor  stop (the caller's monitor; an admin's: all)
    GET    /api/dialer/monitors                 the live monitors

Every start, mode change and end (also the automatic ones: the call ended, the
supervisor hung up) is written to the CRM's audit log from the dialer's bus.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web
from pydantic import Field

from ari_app.ari import AriClient, EventRouter, Reconnected
from ari_app.dialer.bus import EventBus, Subscription
from ari_app.dialer.engine import Dialer
from ari_app.dialer.monitor import MonitorChanged, MonitorDesk
from ari_app.errors import TelephonyError
from ari_app.tasks import TaskSet
from crm.app import crm_service_of
from crm.domain.access import may_manage
from crm.domain.enums import Role
from crm.errors import NotFoundError
from crm.http.routing import Ctx, Route
from crm.service import CrmService
from web.appkeys import DIALER_KEY
from web.http import Handler, StrictIn, dialer_errors

log = logging.getLogger(__name__)

MONITOR_KEY = web.AppKey("monitor_desk", MonitorDesk)
MANAGERS = (Role.MANAGER,)


class MonitorIn(StrictIn):
    mode: Literal["listen", "whisper", "barge"]
    extension: str | None = Field(
        None, pattern=r"^\d{2,8}$",
        description="the supervisor's SIP extension (default: the one they used last)")


def _desk(ctx: Ctx) -> MonitorDesk:
    return ctx.request.app[MONITOR_KEY]


async def _may_monitor(ctx: Ctx, call_id: str) -> None:
    """A manager monitors the live calls of the campaigns they manage (admins: all). A call
    the dialer does not have is the desk's 404; a campaign the CRM does not know (a dialer-only
    test campaign) has no manager to keep others out."""
    if ctx.who.is_admin:
        return
    call = next((c for c in ctx.request.app[DIALER_KEY].snapshot().calls
                 if c.call_id == call_id), None)
    if call is None:
        return
    try:
        campaign = await ctx.service.campaigns.get(uuid.UUID(call.campaign_id))
    except (ValueError, NotFoundError):
        return
    may_manage(ctx.who, campaign)


async def monitor_call(ctx: Ctx) -> web.Response:
    body: MonitorIn = ctx.body
    await _may_monitor(ctx, ctx.path_param("call_id"))
    session = await _desk(ctx).monitor(
        ctx.path_param("call_id"), ctx.who.username, body.mode, body.extension,
        actor_ref=str(ctx.who.user_id))
    return web.json_response(session.view())


async def unmonitor_call(ctx: Ctx) -> web.Response:
    supervisor = None if ctx.who.is_admin else ctx.who.username
    await _may_monitor(ctx, ctx.path_param("call_id"))
    ended = await _desk(ctx).stop_call(ctx.path_param("call_id"), supervisor)
    return web.json_response({"stopped": [m.view() for m in ended]})


async def list_monitors(ctx: Ctx) -> web.Response:
    return web.json_response({"monitors": [m.view() for m in _desk(ctx).live()]})


def monitor_routes() -> list[Route]:
    def r(method: str, path: str, handler: Handler, summary: str,
          body: type[StrictIn] | None = None) -> Route:
        return Route(method, path, dialer_errors(handler), summary, "dialer", roles=MANAGERS,
                     body=body,
                     responses={200: "OK", 403: "not a manager", 404: "no such live call",
                                409: "the call is not connected / phone busy"})

    return [
        r("POST", "/api/dialer/calls/{call_id}/monitor", monitor_call,
          "Listen to, whisper to the agent of, or barge into a live call (or switch mode)",
          MonitorIn),
        r("DELETE", "/api/dialer/calls/{call_id}/monitor", unmonitor_call,
          "Stop monitoring a call (hangs up the supervisor's leg)"),
        r("GET", "/api/dialer/monitors", list_monitors, "Live supervisor monitors"),
    ]


# ------------------------------------------------------------------ wiring --
def build_monitor(dialer: Dialer, ari: AriClient, router: EventRouter) -> MonitorDesk:
    desk = MonitorDesk(ari, dialer.calls, dialer.agents, dialer.publisher, dialer.clock,
                       dialer.spawn)
    desk.register(router)
    return desk


async def sweep_stale(desk: MonitorDesk, ari: AriClient) -> int:
    """Hang up monitor channels/bridges of our app left by a previous process."""
    try:
        app = await ari.application()
    except TelephonyError as exc:
        log.info("monitor sweep: %s", exc)
        return 0
    return await desk.sweep(list(app.channel_ids), list(app.bridge_ids))


class MonitorAudit:
    """Writes every :class:`MonitorChanged` to the CRM audit log (from the bus, in order)."""

    def __init__(self, bus: EventBus, crm: CrmService) -> None:
        self.crm = crm
        self.written = 0
        self._sub: Subscription = bus.subscribe(lambda e: isinstance(e, MonitorChanged), 1024)
        self._tasks = TaskSet(log)
        self._tasks.spawn(self._run(), "monitor-audit")

    async def _run(self) -> None:
        while True:
            event = await self._sub.get()
            assert isinstance(event, MonitorChanged)
            try:
                await self.write(event)
            except Exception:  # noqa: BLE001 - one bad write must not stop the auditor
                log.exception("monitor %s: audit not written", event.monitor_id)

    async def write(self, event: MonitorChanged) -> None:
        actor = uuid.UUID(event.actor_ref) if event.actor_ref else None
        await self.crm.supervision.record_monitor(
            actor, event.change, event.call_id, monitor_id=event.monitor_id,
            supervisor=event.supervisor, extension=event.extension, mode=event.mode,
            reason=event.reason)
        self.written += 1

    async def close(self) -> None:
        self._sub.close()
        await self._tasks.close()


async def monitor_ctx(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` (after the dialer's): the monitor desk, its events, its audit."""
    from web.appkeys import BUS, TELEPHONY  # the composition root's keys

    telephony = app[TELEPHONY]
    desk = build_monitor(app[DIALER_KEY], telephony.ari, telephony.router)

    async def on_connected(_marker: Reconnected) -> None:
        await sweep_stale(desk, telephony.ari)

    telephony.on_connected(on_connected)
    app[MONITOR_KEY] = desk
    auditor = MonitorAudit(app[BUS], crm_service_of(app))
    yield
    for session in desk.live():
        await desk.stop(session.monitor_id, "shutdown")
    await auditor.close()
