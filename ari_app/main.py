"""Composition root: builds every object and serves the app.

    dialcrm serve        the controller and the web app (http://127.0.0.1:8080/)
    dialcrm demo         the same, on the sandbox, with the demo data

Nothing else in the code base builds long-lived objects; they are passed into
constructors from here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

import web as pages
from ari_app.errors import ConfigurationError
from ari_app.settings import DialerSettings
from ari_app.telephony import Telephony

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", DialerSettings)
TELEPHONY = web.AppKey("telephony", Telephony)


def build_app(settings: DialerSettings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_telephony_ctx)
    app.router.add_get("/", index)
    app.router.add_get("/status", status)
    app.router.add_static("/static", pages.STATIC_DIR)
    return app


async def _telephony_ctx(app: web.Application) -> AsyncIterator[None]:
    telephony = Telephony(app[SETTINGS])
    app[TELEPHONY] = telephony
    await telephony.start()
    yield
    await telephony.stop()


async def status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[TELEPHONY].status())


async def index(request: web.Request) -> web.Response:
    lang = pages.pick_language(
        request.query.get("lang"), request.cookies.get("lang"),
        request.headers.get("Accept-Language"),
    )
    state: dict[str, Any] = await request.app[TELEPHONY].status()
    response = web.Response(
        text=pages.render("index.html", lang, status=state), content_type="text/html"
    )
    if request.query.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
    return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dialcrm", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("serve", "demo"), nargs="?", default="serve")
    parser.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default from settings: 8080)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = DialerSettings.load()
    except ConfigurationError as exc:
        print(f"dialcrm: configuration error: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("http_host", args.host), ("http_port", args.port)) if v}
    settings = settings.merged(overrides, source="command line")
    app = build_app(settings)
    print(f"dialcrm: open {settings.public_url}", flush=True)
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
