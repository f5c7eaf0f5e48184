"""Composition root: builds every object and serves the app.

    dialcrm serve        the controller, the CRM API and the pages (http://127.0.0.1:8080/)
    dialcrm demo         the same, on the sandbox, with a demo campaign dialing

Nothing else in the code base builds long-lived objects; they are passed into
constructors from here.

``dialcrm serve`` refuses to start while any secret is still its public sandbox default
(:func:`check_secrets`), unless ``DIALCRM_ALLOW_SANDBOX_SECRETS=1`` (``make demo`` sets it;
``dialcrm demo`` implies it), and then says so loudly at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

import web as pages
from ari_app.adapters.crm_http import HttpCrm
from ari_app.adapters.crm_local import LocalCrm
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.store import DialerStore
from ari_app.errors import ConfigurationError
from ari_app.pbx_admin import PbxAdmin
from ari_app.settings import DialerSettings, Settings, load_settings
from ari_app.telephony import Telephony
from crm.app import create_crm_app, crm_service_of
from crm.domain.enums import Role
from crm.errors import CrmError
from crm.http.routing import authenticate
from crm.pops import install_pops
from crm.settings import CrmSettings
from web.agent.pages import add_agent_pages
from web.agent.pops import pop_bridge_ctx
from web.appkeys import BUS, DIALER_KEY, PBX_KEY, SETTINGS, TELEPHONY
from web.console.api import console_routes
from web.console.pages import add_console_pages
from web.customers.pages import add_customer_pages
from web.dialer.api import dialer_routes
from web.metrics.loop_lag import freeze_after_startup
from web.metrics.prometheus import install_metrics
from web.monitor.api import monitor_ctx, monitor_routes
from web.nav import landing_path, page_nav
from web.status.api import status as health_status
from web.status.api import status_routes
from web.transcripts.wiring import FORKS_KEY, live_transcripts_ctx
from web.wallboard.board import install_wallboard

log = logging.getLogger(__name__)

ALLOW_SANDBOX_SECRETS = "DIALCRM_ALLOW_SANDBOX_SECRETS"


class SystemClock:
    def now(self) -> float:
        return time.time()


def build_app(settings: DialerSettings, crm_settings: CrmSettings) -> web.Application:
    app = create_crm_app(crm_settings, extra_routes=[*dialer_routes(), *monitor_routes(),
                                                     *console_routes(), *status_routes()])
    app[SETTINGS] = settings
    app[BUS] = EventBus()
    app.cleanup_ctx.append(_dialer_ctx)  # after the CRM's: it uses the CRM service
    app.cleanup_ctx.append(monitor_ctx)  # supervisor listen/whisper/barge (after the dialer's)
    app.cleanup_ctx.append(live_transcripts_ctx)  # live audio fork → recogniser → transcripts
    app.cleanup_ctx.append(pop_bridge_ctx(app[BUS], install_pops(app)))  # bus → /ws/agent
    install_wallboard(app)  # bus → /ws/wallboard, /wallboard (after the dialer's context)
    install_metrics(app)  # /metrics (admin) and the request-latency middleware
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/status", health_status)  # 200 all ok / 503, per component
    add_agent_pages(app)  # /login, /agent
    add_console_pages(app)  # /console, /console/campaigns/{id}, /console/reports, /admin
    add_customer_pages(app)  # /customers, /customers/{id}
    app.router.add_static("/static", pages.STATIC_DIR)
    freeze_after_startup(app)  # no full-GC stalls over start-up objects (issue 19)
    return app


async def _dialer_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    telephony = Telephony(settings)
    store = DialerStore(Path(settings.data_dir) / "dialer.sqlite3")
    await store.open()
    crm: LocalCrm | HttpCrm
    if settings.crm_url:  # the CRM runs elsewhere: talk to it over its REST API
        if not settings.crm_token:
            raise ConfigurationError("DIALCRM_CRM_URL is set: DIALCRM_CRM_TOKEN is needed too")
        crm = HttpCrm(settings.crm_url, settings.crm_token)
    else:
        crm = LocalCrm(crm_service_of(app))
    dialer = Dialer(telephony.ari, store, crm, crm, app[BUS], SystemClock(),
                    worker=settings.worker, dispositions=crm)  # the campaigns' wrap-up codes
    dialer.register(telephony.router)
    dialer.register_ami(telephony.ami)  # Cdr events: durations cross-checked
    telephony.on_connected(dialer.on_connected)
    app[TELEPHONY] = telephony
    app[DIALER_KEY] = dialer
    app[PBX_KEY] = PbxAdmin(telephony.ami)
    await dialer.start()
    await telephony.start()
    yield
    await dialer.stop()
    await telephony.stop()
    await store.close()
    if isinstance(crm, HttpCrm):
        await crm.close()


async def _status(app: web.Application) -> dict[str, Any]:
    state: dict[str, Any] = await app[TELEPHONY].status()
    state["outbox"] = await app[DIALER_KEY].store.outbox_stats()
    if FORKS_KEY in app:
        state["transcripts"] = app[FORKS_KEY].status()
    try:
        async with crm_service_of(app).engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        state["database"] = {"ok": True}
    except (SQLAlchemyError, OSError) as exc:
        state["database"] = {"ok": False, "error": str(exc)[:200]}
    return state


async def favicon(request: web.Request) -> web.FileResponse:
    """The site's icon (browsers ask for it on every page)."""
    response = web.FileResponse(pages.STATIC_DIR / "favicon.ico")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.content_type = "image/x-icon"
    return response


async def index(request: web.Request) -> web.Response:
    """The landing page; Asterisk's version and the connections only for a signed-in admin."""
    lang = pages.pick_language(
        request.query.get("lang"), request.cookies.get("lang"),
        request.headers.get("Accept-Language"),
    )
    try:
        who = await authenticate(request, crm_service_of(request.app))
    except CrmError:
        who = None
    state = await _status(request.app) if who is not None and who.role is Role.ADMIN else None
    nav = page_nav(request, who)
    response = web.Response(
        text=pages.render("index.html", lang, status=state, nav=nav,
                          start=landing_path(who.role) if who else None),
        content_type="text/html",
    )
    response.headers["Cache-Control"] = "no-store"
    if request.query.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
    return response


def check_secrets(chain: Settings, command: str, environ: Mapping[str, str]) -> int | None:
    """The exit code when the app must not start (2: a secret is still a public sandbox
    default, named on stderr with the variable that sets it), else None. ``dialcrm demo`` or
    ``DIALCRM_ALLOW_SANDBOX_SECRETS=1`` let it start, with a loud warning on stderr."""
    if chain.crm.holds_sandbox_recording_key and not chain.crm.uses_sandbox_recording_key:
        print("dialcrm: warning: the recording keyring still holds the public sandbox key "
              "(recordings under it decrypt with a key anyone has): run `python -m crm.cli "
              "rotate-recording-keys`, then remove it from DIALCRM_RECORDING_KEYS",
              file=sys.stderr)
    found = chain.sandbox_secrets()
    if not found:
        return None
    allowed = environ.get(ALLOW_SANDBOX_SECRETS, "").strip().lower() in ("1", "true", "yes")
    if allowed or command == "demo":
        names = ", ".join(s.variable for s in found)
        bar = "!" * 78
        print(f"{bar}\ndialcrm: WARNING: running with the PUBLIC SANDBOX SECRETS ({names}).\n"
              f"Anyone can read them in the source: for the local sandbox only, never in "
              f"production\n({'dialcrm demo' if command == 'demo' else ALLOW_SANDBOX_SECRETS})."
              f"\n{bar}", file=sys.stderr, flush=True)
        return None
    lines = "\n".join(f"  - {s.advice()}" for s in found)
    print(f"dialcrm: refusing to start: these secrets are still the public sandbox defaults "
          f"(anyone can read them in the source):\n{lines}\nSet them in the environment (not "
          f"in the config file). For the local sandbox only, {ALLOW_SANDBOX_SECRETS}=1 starts "
          f"anyway (make demo and dialcrm demo do).", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["models"]:  # `dialcrm models retrain|status`: the CRM's model commands
        from crm.cli import main as crm_cli

        return crm_cli(argv)
    parser = argparse.ArgumentParser(prog="dialcrm", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("serve", "demo"), nargs="?", default="serve")
    parser.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default from settings: 8080)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:  # the one settings chain: defaults → DIALCRM_CONFIG → environment (→ command line)
        chain = load_settings()
    except ConfigurationError as exc:
        print(f"dialcrm: configuration error: {exc}", file=sys.stderr)
        return 2
    refused = check_secrets(chain, args.command, os.environ)
    if refused is not None:
        return refused
    settings, crm_settings = chain.dialer, chain.crm
    overrides: dict[str, Any] = {
        k: v for k, v in (("http_host", args.host), ("http_port", args.port)) if v}
    if args.command == "demo" and "DIALCRM_ASR_START" not in os.environ:
        overrides["asr_start"] = "eager"  # the demo's first call is transcribed from its start
    settings = settings.merged(overrides, source="command line")
    app = build_app(settings, crm_settings)
    if args.command == "demo":
        from web.demo import install_demo

        install_demo(app)
    print(f"dialcrm: open {settings.public_url}", flush=True)
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
