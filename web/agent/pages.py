"""The agent's pages: ``/login`` and ``/agent`` (jinja2 + ``/static/agent.js``), zh and en.

The page handlers only render: the initial state (the user, the campaigns the dialer runs,
the agent's dialer state) is embedded as JSON; everything live comes over ``/ws/agent`` and
every action goes through the JSON API (``/api/agent/*``, ``/api/customers/{id}/notes``,
``/api/tasks``).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

import web as pages
from crm.app import crm_service_of
from crm.domain.access import Principal, may_join_campaign, may_manage_agent
from crm.domain.enums import CampaignStatus, Role
from crm.errors import CrmError
from crm.http.routing import authenticate
from web.appkeys import DIALER_KEY
from web.i18n import CONCEPTS, GAP_REASONS, translator
from web.nav import page_nav
from web.redirects import safe_next

PAUSE_CODES = ("break", "lunch", "training", "meeting", "admin")
DESK_ROLES = (Role.AGENT, Role.MANAGER, Role.ADMIN)
JS_KEYS = (
    "live",
    "reconnecting",
    "waiting_for_call",
    "unknown_customer",
    "no_contacts",
    "no_tasks",
    "no_script",
    "note_saved",
    "disposition_saved",
    "error",
    "due",
    "skip_reason",
    "login_failed",
    "no_notes",
    "wrapup_left",
    "on_hold",
    "muted",
    "hold",
    "unhold",
    "mute",
    "unmute",
    "no_callbacks",
    "callback_scope_personal",
    "callback_soon",
    "zone",
    "no_customer",
    "task_done",
    "shortcut_hint",
)


_language = pages.request_language
_page = pages.page_response


async def _principal(request: web.Request) -> Principal | None:
    try:
        return await authenticate(request, crm_service_of(request.app))
    except CrmError:
        return None


async def login_page(request: web.Request) -> web.Response:
    lang = _language(request)
    target = safe_next(request.query.get("next"), "")  # our own pages only; "": the role's
    return _page(request, "login.html", lang, next_url=target, strings=_strings(lang, JS_KEYS),
                 nav=page_nav(request, await _principal(request)))


async def agent_page(request: web.Request) -> web.Response:
    principal = await _principal(request)
    if principal is None or principal.role not in DESK_ROLES:
        raise web.HTTPFound("/login?next=/agent")
    lang = _language(request)
    watched = request.query.get("agent") if principal.role is not Role.AGENT else None
    if watched and watched != principal.username:  # managers watch their campaigns' agents
        try:
            reach = await crm_service_of(request.app).access.agent_named(watched[:64],
                                                                         missing_ok=True)
            may_manage_agent(principal, reach)
        except CrmError:
            raise web.HTTPNotFound() from None
    agent_id = watched or principal.username
    boot = await _boot(request, principal, agent_id, lang)
    return _page(
        request,
        "agent.html",
        lang,
        boot=boot,
        dispositions=boot["dispositions"],
        pause_codes=PAUSE_CODES,
        username=principal.username,
        nav=page_nav(request, principal),
        customer_pages=any(r.canonical == "/customers/{customer_id}"
                           for r in request.app.router.resources()),
    )


async def _campaigns(request: web.Request, who: Principal,
                     running: dict[str, str]) -> list[dict[str, Any]]:
    """The active campaigns ``who`` may log into (members; their manager; admins: all), the
    ones the dialer is running first (mode shown)."""
    crm = crm_service_of(request.app)
    page = await crm.campaigns.list(status=CampaignStatus.ACTIVE, limit=200)
    mine = await crm.members.campaigns_of(who.user_id)
    found = []
    for c in page.items:
        try:
            may_join_campaign(who, c, member=c.id in mine)
        except CrmError:
            continue
        found.append({"id": str(c.id), "name": c.name, "mode": running.get(str(c.id))})
    return sorted(found, key=lambda c: c["mode"] is None)


async def _boot(request: web.Request, who: Principal, agent_id: str, lang: str) -> dict[str, Any]:
    dialer = request.app.get(DIALER_KEY)
    running: dict[str, str] = {}
    agent: dict[str, Any] = {"agent_id": agent_id, "state": "logged_out"}
    if dialer is not None:
        snapshot = dialer.snapshot()
        running = {c.campaign_id: c.mode.value for c in snapshot.campaigns if c.running}
        found = snapshot.agent(agent_id)
        agent = found.as_json() if found is not None else agent
    return {
        "username": who.username,
        "user_id": str(who.user_id),
        "role": who.role.value,
        "agent_id": agent_id,
        "watching": agent_id != who.username,
        "lang": lang,
        "campaigns": await _campaigns(request, who, running),
        "extensions": await crm_service_of(request.app).members.extensions_of(who.user_id),
        "agent": agent,
        "dispositions": await _dispositions(request, agent.get("campaign_id"), lang),
        "strings": _strings(lang, JS_KEYS),
        "labels": _strings(lang, _label_keys()),
    }


async def _dispositions(request: web.Request, campaign_id: str | None,
                        lang: str) -> list[dict[str, Any]]:
    """The wrap-up codes of the agent's campaign (every campaign's before the dialer login),
    from the CRM's table, in their order, with their label in ``lang`` and their key."""
    try:
        campaign = uuid.UUID(campaign_id) if campaign_id else None
    except ValueError:  # a campaign the CRM does not know: every campaign's codes
        campaign = None
    rows = await crm_service_of(request.app).reference.dispositions(campaign)
    return [{"code": d.code, "label": d.label_zh if lang == "zh" else d.label_en,
             "category": d.category, "shortcut": d.shortcut} for d in rows]


def _label_keys() -> list[str]:
    states = ("logged_out", "connecting", "ready", "reserved", "on_call", "wrap_up", "paused")
    outcomes = ("answered", "no_answer", "busy", "failed", "machine", "abandoned", "invalid_number")
    calls = ("offered", "ringing", "connected", "ended")
    return [
        *(f"state_{s}" for s in states),
        *(f"outcome_{o}" for o in outcomes),
        *(f"call_{c}" for c in calls),
        "route_senior", "route_standard", "route_nurture", "route_overridden",
        *(f"ntype_{n}" for n in ("mobile", "landline", "voip", "unknown")),
        *(f"concept_{c}" for c in CONCEPTS),
        *(f"disp_{d}" for d in ("sale", "interested", "callback", "not_interested",
                                "do_not_call", "wrong_number")),
        *(f"gap_{g}" for g in GAP_REASONS),
        *(f"callstate_{c}" for c in ("originated", "ringing", "answered", "bridged", "ended")),
    ]


def _strings(lang: str, keys: Any) -> dict[str, str]:
    t = translator(lang)
    return {key: t(key) for key in keys}


def add_agent_pages(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_get("/agent", agent_page)
