"""The manager console's pages (jinja2 + ``/static/console.js``), zh and en:

- ``/console`` campaigns with their live status (pushed by ``/ws/wallboard``), a new-campaign
  form;
- ``/console/campaigns/{id}`` every setting, start / pause / stop, the mode switch, the lists
  (CSV import with the per-row report, penetration, recycling);
- ``/console/reports`` per campaign / agent / day, with a CSV download;
- ``/console/experiments`` A/B experiments: list, create (field errors), stop, the per-variant
  report with 95 % intervals and its CSV (``/api/experiments*``);
- ``/console/models`` the answer and conversion models (version, held-out metrics next to the
  base rate's, reliability, route shares, retrain) and agents' seniority (``/static/models.js``
  on ``/api/models/*``, ``/api/agents/*``);
- ``/admin`` (admins) health, interface response times, CRM sync, Asterisk (``/static/status.js``).

The handlers only render: the initial data is embedded as JSON, every action goes through the
JSON API (``/api/console/*``, ``/api/campaigns/*``, ``/api/reports/*``, ``/api/admin/*``).
Signed-out visitors are sent to ``/login``; agents get a 403 page.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

import web as pages
from ari_app.pbx_admin import RELOADABLE
from crm.domain import dialing_settings as ds
from crm.domain.access import Principal, may_manage
from crm.domain.enums import Role
from crm.errors import CrmError, NotFoundError, PermissionDeniedError
from crm.experiments.service import FEATURES, UNITS
from crm.http.routing import SERVICE_KEY, authenticate
from crm.http.views import row
from crm.services.common import parse_uuid
from crm.services.lists import REASONS, RECYCLABLE
from web.appkeys import DIALER_KEY
from web.console.api import campaign_views
from web.i18n import STRINGS, translator
from web.nav import page_nav
from web.redirects import login_url

CONSOLE_ROLES = (Role.MANAGER, Role.ADMIN)
# the campaign form's dialing settings by fieldset, and the mode (its own switch), from their one
# definition (crm.domain.dialing_settings)
FORM_SECTIONS = {section.value: ds.in_section(section) for section in ds.SECTIONS}
MODE = ds.BY_NAME["mode"]
RETRY_OUTCOMES = ("no_answer", "busy", "failed", "machine", "abandoned")
JS_KEYS = (
    "saved", "saved_live", "no_changes", "fix_errors", "error", "dialing", "not_dialing",
    "mode_switched", "uploading", "created", "merged", "rejected", "recycled", "no_rows",
    "confirm_stop", "ok", "failing", "no_registrations", "reloaded", "live", "reconnecting",
    "status_active", "status_paused", "status_archived", "col_abandon_rate",
    "wb_target", "wb_over_target",
    *(f"reason_{r}" for r in REASONS),
    *(s.choice_key(v) for s in (ds.BY_NAME["mode"], ds.BY_NAME["abandon_window"])
      for v in s.choices),
    *(f"comp_{c}" for c in ("ari", "ami", "database", "outbox", "recogniser")),
    "members", "member_added", "member_save", "member_remove", "member_removed",
    "member_confirm_remove", "no_members",
    "exp_variant", "exp_weight", "exp_remove", "exp_stop", "exp_confirm_stop", "exp_report",
    "exp_none", "exp_running", "exp_stopped", "exp_created", "exp_stopped_msg", "rep_control",
    "rep_vs_control", "rep_not_applicable", "experiments",
    *(f"feature_{f}" for f in FEATURES), *(f"unit_{u}" for u in UNITS),
)

MODEL_JS_KEYS = ("error", "route_senior", "route_standard", "route_nurture",
                 *(k for k in STRINGS if k.startswith("mdl_")))


_language = pages.request_language


def _strings(lang: str) -> dict[str, str]:
    t = translator(lang)
    return {k: t(k) for k in JS_KEYS}


def _render(request: web.Request, template: str, status: int = 200,
            who: Principal | None = None, **context: Any) -> web.Response:
    return pages.page_response(request, template, _language(request), status=status,
                               nav=page_nav(request, who), **context)


async def _gate(request: web.Request, roles: tuple[Role, ...]) -> Principal | web.Response:
    """The principal, or the response to send instead (login redirect, 403 page)."""
    try:
        principal = await authenticate(request, request.app[SERVICE_KEY])
    except CrmError:
        principal = None
    if principal is None:
        raise web.HTTPFound(login_url(request.path))
    if principal.role not in roles:
        return _render(request, "console_forbidden.html", status=403, who=principal,
                       username=principal.username, role=principal.role.value)
    return principal


def _boot(request: web.Request, who: Principal, **data: Any) -> dict[str, Any]:
    lang = _language(request)
    return {"lang": lang, "username": who.username, "role": who.role.value,
            "strings": _strings(lang), **data}


async def _campaign_items(request: web.Request, who: Principal) -> list[dict[str, Any]]:
    service = request.app[SERVICE_KEY]
    page = await service.campaigns.list(manager_id=None if who.is_admin else who.user_id,
                                        limit=500)
    return await campaign_views(service, request.app.get(DIALER_KEY), list(page.items))


async def console_page(request: web.Request) -> web.Response:
    who = await _gate(request, CONSOLE_ROLES)
    if isinstance(who, web.Response):
        return who
    items = await _campaign_items(request, who)
    return _render(request, "console_campaigns.html", who=who, username=who.username,
                   is_admin=who.is_admin, campaigns=items, mode=MODE,
                   boot=_boot(request, who, campaigns=items))


async def campaign_page(request: web.Request) -> web.Response:
    who = await _gate(request, CONSOLE_ROLES)
    if isinstance(who, web.Response):
        return who
    service = request.app[SERVICE_KEY]
    try:
        campaign = await service.campaigns.get(
            parse_uuid(request.match_info["campaign_id"], "campaign_id"))
        may_manage(who, campaign)
    except (NotFoundError, PermissionDeniedError, CrmError):
        raise web.HTTPNotFound() from None
    view = (await campaign_views(service, request.app.get(DIALER_KEY), [campaign]))[0]
    return _render(request, "console_campaign.html", who=who, username=who.username,
                   is_admin=who.is_admin, c=view["campaign"], d=view["dialing"],
                   retry_outcomes=RETRY_OUTCOMES, recyclable=RECYCLABLE, reasons=REASONS,
                   sections=FORM_SECTIONS, mode=MODE, boot=_boot(request, who, campaign=view))


async def reports_page(request: web.Request) -> web.Response:
    who = await _gate(request, CONSOLE_ROLES)
    if isinstance(who, web.Response):
        return who
    service = request.app[SERVICE_KEY]
    page = await service.campaigns.list(manager_id=None if who.is_admin else who.user_id,
                                        limit=500)
    today = service.clock.now().astimezone(ZoneInfo(service.settings.timezone)).date()
    return _render(request, "console_reports.html", who=who, username=who.username,
                   is_admin=who.is_admin, campaigns=page.items, today=today.isoformat(),
                   boot=_boot(request, who, today=today.isoformat()))


async def experiments_page(request: web.Request) -> web.Response:
    who = await _gate(request, CONSOLE_ROLES)
    if isinstance(who, web.Response):
        return who
    page = await request.app[SERVICE_KEY].experiments.list(limit=200)
    items = [row(e) for e in page.items]  # as GET /api/experiments has them
    return _render(request, "console_experiments.html", who=who, username=who.username,
                   is_admin=who.is_admin, features=FEATURES, units=UNITS,
                   boot=_boot(request, who, experiments=items))


async def models_page(request: web.Request) -> web.Response:
    who = await _gate(request, CONSOLE_ROLES)
    if isinstance(who, web.Response):
        return who
    boot = _boot(request, who)  # the data comes from the API (the same path as a refresh)
    t = translator(boot["lang"])
    boot["strings"] = {k: t(k) for k in MODEL_JS_KEYS}
    return _render(request, "console_models.html", who=who, username=who.username,
                   is_admin=who.is_admin, boot=boot)


async def admin_page(request: web.Request) -> web.Response:
    who = await _gate(request, (Role.ADMIN,))
    if isinstance(who, web.Response):
        return who
    return _render(request, "status.html", who=who, username=who.username, is_admin=True,
                   reloadable=RELOADABLE, boot=_boot(request, who))


def add_console_pages(app: web.Application) -> None:
    app.router.add_get("/console", console_page)
    app.router.add_get("/console/campaigns/{campaign_id}", campaign_page)
    app.router.add_get("/console/reports", reports_page)
    app.router.add_get("/console/experiments", experiments_page)
    app.router.add_get("/console/models", models_page)
    app.router.add_get("/admin", admin_page)
