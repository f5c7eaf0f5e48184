"""``GET /status`` (health for machines) and ``GET /api/admin/dashboard`` (the admin page's data).

``/status`` answers without authentication (a load balancer or a monitor asks it) and tells
nothing internal: each component is ``{"ok": bool}``; HTTP 200 when every component is ok, 503
otherwise. The dashboard has each component's ``{"ok", "detail", "error"}``.
Components: ``ari``, ``ami``, ``database``, ``outbox``
(pending events and the age of the oldest), ``recogniser`` and any check another part of the
app registered with :func:`add_health_check`. Each check has a time limit.

The dashboard (admins) adds what a person wants to see: interface response times per route
(from the ``/metrics`` histograms: count, mean, p50/p95 estimated from the buckets), the
event-to-CRM sync success rate and lag per outbox lane, and Asterisk's version, uptime and the
phone and trunk registrations (AMI).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from ari_app.dialer.engine import Dialer
from ari_app.errors import TelephonyError
from crm.domain.enums import Role
from crm.http.routing import SERVICE_KEY, Ctx, Route
from web.appkeys import DIALER_KEY, PBX_KEY, TELEPHONY
from web.metrics.prometheus import HTTP_METRICS, HttpMetrics
from web.transcripts.wiring import FORKS_KEY

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[dict[str, Any]]]
HEALTH_CHECKS: web.AppKey[dict[str, Check]] = web.AppKey("health_checks", dict)
CHECK_TIMEOUT_S = 3.0
OUTBOX_STALE_S = 300.0  # an event this old still undelivered means the CRM sync is stuck


def add_health_check(app: web.Application, name: str, check: Check) -> None:
    """Register a component for ``/status`` (e.g. the recogniser pool: ``pool_check(pool)``)."""
    app.setdefault(HEALTH_CHECKS, {})[name] = check


def pool_check(pool: Any) -> Check:
    """A check for :class:`ari_app.speech.pool.RecogniserPool` (healthy: a worker is ready)."""
    async def check() -> dict[str, Any]:
        health = pool.health()
        states = [str(getattr(w, "state", "?")) for w in health.workers]
        return {"ok": bool(health.healthy), "detail": {"workers": states},
                "error": None if health.healthy else "no recogniser worker is ready"}
    return check


async def _ari(app: web.Application) -> dict[str, Any]:
    telephony = app.get(TELEPHONY)
    if telephony is None:
        return {"ok": False, "error": "telephony not started"}
    state = await telephony.status()
    ari, ami = state["ari"], state["ami"]
    return {"ari": {"ok": bool(ari["connected"]) and "error" not in ari,
                    "detail": {"reconnects": ari["reconnects"],
                               "asterisk_version": ari.get("asterisk_version")},
                    "error": ari.get("error") or (None if ari["connected"] else
                                                  "event stream not connected")},
            "ami": {"ok": bool(ami["connected"]), "detail": {},
                    "error": ami.get("error") or (None if ami["connected"] else
                                                  "not connected")}}


async def _database(app: web.Application) -> dict[str, Any]:
    try:
        async with app[SERVICE_KEY].engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return {"ok": True, "detail": {"backend": app[SERVICE_KEY].engine.dialect.name}}
    except (SQLAlchemyError, OSError) as exc:
        return {"ok": False, "error": str(exc)[:200]}


async def _outbox(app: web.Application) -> dict[str, Any]:
    dialer = app.get(DIALER_KEY)
    if dialer is None:
        return {"ok": False, "error": "dialer not started"}
    stats = await dialer.store.outbox_stats()
    pending = sum(r["pending"] for r in stats.values())
    oldest = max((r["oldest_pending_s"] for r in stats.values()), default=0.0)
    stale = oldest > OUTBOX_STALE_S
    return {"ok": not stale, "detail": {"pending": pending, "oldest_pending_s": oldest,
                                        "lanes": stats},
            "error": f"an event has waited {oldest:.0f} s for the CRM" if stale else None}


async def _recogniser(app: web.Application) -> dict[str, Any]:
    """The live-transcript recogniser: off (not an error), lazy and not started yet (starts
    with the first connected call), or its pool's health (a worker is ready)."""
    forks = app.get(FORKS_KEY)
    if forks is None:
        return {"ok": True, "detail": {"enabled": False}, "error": None}
    pool = getattr(forks.recogniser, "pool", None)
    detail: dict[str, Any] = {"enabled": True, "forks": forks.status()}
    if pool is None:
        return {"ok": True, "detail": detail, "error": None}
    if not pool.started:
        return {"ok": True, "detail": {**detail, "started": False}, "error": None}
    result = await pool_check(pool)()
    return {**result, "detail": {**detail, "started": True, **result["detail"]}}


async def _guarded(name: str, check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check()
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S:g} s"}
    except (TelephonyError, SQLAlchemyError, OSError) as exc:
        return {"ok": False, "error": str(exc)[:200]}
    except Exception as exc:  # a broken check must not break /status
        log.exception("status check %s failed", name)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}


async def health(app: web.Application) -> dict[str, Any]:
    checks: dict[str, Check] = {"recogniser": lambda: _recogniser(app)}
    if HEALTH_CHECKS in app:
        registered: dict[str, Check] = app[HEALTH_CHECKS]
        checks.update(registered)
    names = ["telephony", "database", "outbox", *checks]
    results = await asyncio.gather(
        _guarded("telephony", lambda: _ari(app)), _guarded("database", lambda: _database(app)),
        _guarded("outbox", lambda: _outbox(app)),
        *(_guarded(n, c) for n, c in checks.items()))
    components: dict[str, Any] = {}
    for name, result in zip(names, results, strict=True):
        if name == "telephony":
            components.update(result if "ari" in result else {"ari": result, "ami": result})
        else:
            components[name] = result
    return {"ok": all(c["ok"] for c in components.values()), "components": components}


async def status(request: web.Request) -> web.Response:
    """Unauthenticated: ok / not ok per component and nothing else (no versions, host names or
    error texts: those are for the admin's dashboard); a failing component is logged."""
    body = await health(request.app)
    for name, component in body["components"].items():
        if not component["ok"]:
            log.debug("status: %s not ok: %s", name, component.get("error"))
    public = {"ok": body["ok"],
              "components": {name: {"ok": bool(c["ok"])} for name, c in body["components"].items()}}
    return web.json_response(public, status=200 if body["ok"] else 503,
                             headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------- the dashboard --
def latency_table(http: HttpMetrics) -> list[dict[str, Any]]:
    rows = []
    for (method, route), s in http.latency.series.items():
        if route == "unmatched" or route.startswith("/static"):
            continue
        rows.append({"method": method, "route": route, "count": s.count,
                     "mean_ms": round(1000 * s.total / s.count, 2) if s.count else None,
                     "p50_ms": _ms(s.quantile(0.5)), "p95_ms": _ms(s.quantile(0.95))})
    return sorted(rows, key=lambda r: -r["count"])


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def sync_table(dialer: Dialer, stats: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for f in dialer.snapshot().forwarders:
        tries = f.delivered + f.failures
        lane = stats.get(f.lane, {})
        rows.append({"lane": f.lane, "delivered": f.delivered, "failures": f.failures,
                     "success_rate": round(f.delivered / tries, 4) if tries else None,
                     "last_lag_s": f.last_lag_s, "last_error": f.last_error,
                     "pending": lane.get("pending", 0),
                     "oldest_pending_s": lane.get("oldest_pending_s", 0.0)})
    return rows


async def dashboard(ctx: Ctx) -> web.Response:
    app = ctx.request.app
    body: dict[str, Any] = {"health": await health(app),
                            "latency": latency_table(app[HTTP_METRICS])
                            if HTTP_METRICS in app else []}
    dialer = app.get(DIALER_KEY)
    body["sync"] = sync_table(dialer, await dialer.store.outbox_stats()) if dialer else []
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S * 2):
            overview = await app[PBX_KEY].overview()
        body["asterisk"] = {**overview, "uptime_s": _uptime(overview.get("startup"))}
    except (TelephonyError, TimeoutError, KeyError) as exc:
        body["asterisk"] = {"error": str(exc) or type(exc).__name__}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _uptime(startup: str | None) -> float | None:
    """Seconds since Asterisk's start-up date and time (AMI gives them in local time)."""
    try:
        started = time.mktime(time.strptime(startup or "", "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None
    return max(0.0, round(time.time() - started, 1))


def status_routes() -> list[Route]:
    return [Route("GET", "/api/admin/dashboard", dashboard,
                  "Health, interface response times, CRM sync, Asterisk registrations",
                  "admin", (Role.ADMIN,))]
