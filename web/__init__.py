"""Web pages (jinja2 templates, small vanilla JS/CSS), in Simplified Chinese and English."""

from __future__ import annotations

from pathlib import Path

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


__all__ = ["LANGUAGES", "STATIC_DIR", "TEMPLATES_DIR", "pick_language", "render"]
