"""The one navigation every page shows (``templates/_nav.html``, included by ``base.html``).

A page handler passes ``nav=page_nav(request, principal)`` to ``web.render``; the partial
draws the links the principal's role may open (only the pages this app serves), the current
page marked, the user and a sign-out button, and the language switch that keeps the page's
own query (``/login?next=…``, ``/agent?agent=…``). Signed out: the home link and "sign in".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from crm.domain.access import Principal
from crm.domain.enums import Role
from web.i18n import LANGUAGES
from web.redirects import login_url

_DESK = (Role.AGENT, Role.MANAGER, Role.ADMIN)
_CONSOLE = (Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Link:
    id: str
    href: str
    label: str  # an i18n key
    roles: tuple[Role, ...]


LINKS = (
    Link("desk", "/agent", "nav_desk", _DESK),
    Link("customers", "/customers", "nav_customers", _DESK),
    Link("console", "/console", "nav_console", _CONSOLE),
    Link("reports", "/console/reports", "nav_reports", _CONSOLE),
    Link("experiments", "/console/experiments", "nav_experiments", _CONSOLE),
    Link("models", "/console/models", "nav_models", _CONSOLE),
    Link("wallboard", "/wallboard", "nav_wallboard", _CONSOLE),
    Link("admin", "/admin", "nav_admin", (Role.ADMIN,)),
)


def landing_path(role: Role) -> str:
    """Where a role starts: agents at their desk, managers and admins at the console."""
    return "/agent" if role is Role.AGENT else "/console"


def _served(app: web.Application) -> set[str]:
    return {r.canonical for r in app.router.resources()}


def _current(path: str, links: list[Link]) -> str | None:
    """The link whose path is the longest prefix of ``path`` (``/console/campaigns/x``: console)."""
    best: Link | None = None
    for link in links:
        if path == link.href or path.startswith(link.href + "/"):
            if best is None or len(link.href) > len(best.href):
                best = link
    return best.id if best else None


def lang_hrefs(request: web.Request) -> dict[str, str]:
    """This page's address in each language, its other query parameters kept."""
    return {lang: str(request.rel_url.update_query(lang=lang)) for lang in LANGUAGES}


def page_nav(request: web.Request, who: Principal | None) -> dict[str, Any]:
    """The ``nav`` context of ``_nav.html`` for ``who`` (None: signed out) on this request."""
    nav: dict[str, Any] = {"links": [], "username": None, "role": None,
                           "lang": lang_hrefs(request), "login": None}
    if who is None:
        if request.path != "/login":
            nav["login"] = login_url(request.path_qs)
        return nav
    served = _served(request.app)
    links = [link for link in LINKS if who.role in link.roles and link.href in served]
    current = _current(request.path, links)
    nav.update(username=who.username, role=who.role.value, links=[
        {"id": link.id, "href": link.href, "label": link.label, "current": link.id == current}
        for link in links])
    return nav
