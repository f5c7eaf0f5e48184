"""Security headers on every response (issue 17, #15), set as it is sent (``on_response_prepare``:
errors, redirects and static files too).

The pages load only their own scripts and styles (``/static``), embed their boot data as
``<script type="application/json">`` (data, never run: no ``'unsafe-inline'`` needed), talk to
the API and the WebSockets of their own origin and are never framed. The ``Server`` header
names no software version.
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Server": "dialcrm",
}


async def _set_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers[name] = value


def install_security_headers(app: web.Application) -> None:
    app.on_response_prepare.append(_set_headers)
