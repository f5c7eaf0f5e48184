"""Web pages (jinja2 templates, small vanilla JS/CSS), in Simplified Chinese and English."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web as aioweb
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web.i18n import LANGUAGES, translator

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

_env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape())


def pick_language(query_lang: str | None, cookie_lang: str | None, accept: str | None) -> str:
    """``?lang=`` wins, then the cookie, then Accept-Language; Chinese by default."""
    for candidate in (query_lang, cookie_lang):
        if candidate in LANGUAGES:
            return candidate
    if accept and accept.lower().startswith("en"):
        return "en"
    return "zh"


def render(template: str, lang: str, **context: object) -> str:
    return _env.get_template(template).render(t=translator(lang), lang=lang, **context)


def request_language(request: aioweb.Request) -> str:
    """The page's language for this request (see :func:`pick_language`)."""
    return pick_language(request.query.get("lang"), request.cookies.get("lang"),
                         request.headers.get("Accept-Language"))


def page_response(request: aioweb.Request, template: str, lang: str, status: int = 200,
                  **context: object) -> aioweb.Response:
    """A rendered page, never cached; an explicit ``?lang=`` is remembered in a cookie."""
    response = aioweb.Response(text=render(template, lang, **context), status=status,
                               content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    if request.query.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
    return response


__all__ = ["LANGUAGES", "STATIC_DIR", "TEMPLATES_DIR", "page_response", "pick_language", "render",
           "request_language"]
