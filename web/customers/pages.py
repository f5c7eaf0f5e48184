"""The customer pages (jinja2 + ``/static/customers.js``), zh and en, phone-sized too:

- ``/customers`` search by name (Chinese or Latin), any part of a number, tag, owner;
- ``/customers/{id}`` the customer 360: numbers (type, region, DNC), every call the viewer may
  see (recording, transcript, rules fired, sentiment, intent), tasks, notes, tags, leads, the
  route and its reason, the merge audit; editing; merging (managers: preview, then merge).

The handlers only render: the data comes from the JSON API (``/api/customers*``,
``/api/calls/{id}/transcript``, ``/api/calls/{id}/recording``, ``/api/tasks``), which enforces
the access policy (:mod:`crm.domain.access`); the page of a customer the viewer may not see is
a 404. A merged-away customer's page redirects to the surviving one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

import web as pages
from ari_app.dialer.wrapup import DISPOSITIONS
from crm.app import crm_service_of
from crm.domain.access import Principal, may_see_customer
from crm.domain.enums import Role
from crm.errors import CrmError
from crm.http.routing import authenticate
from crm.services.common import parse_uuid
from web.customers.strings import CUSTOMER_STRINGS
from web.i18n import translator
from web.nav import page_nav
from web.redirects import login_url

ROLES = (Role.AGENT, Role.MANAGER, Role.ADMIN)
OUTCOMES = ("answered", "no_answer", "busy", "failed", "machine", "abandoned", "invalid_number")
SHARED_KEYS = ("error", "speaker_customer", "speaker_agent", "transcript_gap", "route_senior",
               "route_standard", "route_nurture", "route_overridden",
               *(f"outcome_{o}" for o in OUTCOMES), *(f"disp_{d}" for d in DISPOSITIONS))


_language = pages.request_language


def _render(request: web.Request, template: str, who: Principal,
            **context: Any) -> web.Response:
    return pages.page_response(request, template, _language(request),
                               nav=page_nav(request, who), **context)


async def _gate(request: web.Request) -> Principal:
    try:
        principal = await authenticate(request, crm_service_of(request.app))
    except CrmError:
        principal = None
    if principal is None or principal.role not in ROLES:
        raise web.HTTPFound(login_url(request.path_qs))
    return principal


def _boot(request: web.Request, who: Principal, **data: Any) -> dict[str, Any]:
    lang = _language(request)
    t = translator(lang)
    keys = (*CUSTOMER_STRINGS, *SHARED_KEYS)
    return {"lang": lang, "username": who.username, "user_id": str(who.user_id),
            "role": who.role.value, "manages": who.role in (Role.MANAGER, Role.ADMIN),
            "strings": {k: t(k) for k in keys}, **data}


async def customers_page(request: web.Request) -> web.Response:
    who = await _gate(request)
    query = {k: request.query.get(k, "")[:200] for k in ("q", "tag", "owner")}
    return _render(request, "customers.html", who, query=query,
                   boot=_boot(request, who, query=query))


async def customer_page(request: web.Request) -> web.Response:
    who = await _gate(request)
    service = crm_service_of(request.app)
    try:
        requested = parse_uuid(request.match_info["customer_id"], "customer_id")
        customer = await service.customers.get(requested)  # follows a merge to the survivor
        may_see_customer(who, await service.access.customer(customer.id))
    except CrmError:
        raise web.HTTPNotFound() from None
    if customer.id != requested:
        raise web.HTTPFound(f"/customers/{customer.id}?merged_from={quote(str(requested))}")
    return _render(request, "customer.html", who, name=customer.name,
                   merged_from=bool(request.query.get("merged_from")),
                   boot=_boot(request, who, customer_id=str(customer.id)))


def add_customer_pages(app: web.Application) -> None:
    app.router.add_get("/customers", customers_page)
    app.router.add_get("/customers/{customer_id}", customer_page)
