"""``create_crm_app(settings)``: the CRM's aiohttp application, mounted by the composition root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from crm.http import (
    handlers_admin,
    handlers_campaigns,
    handlers_conversion,
    handlers_customers,
    handlers_desk,
    handlers_dnc,
    handlers_experiments,
    handlers_hopper,
    handlers_members,
    handlers_models,
    handlers_privacy,
    handlers_reports,
    handlers_speech,
    handlers_work,
)
from crm.http.errors_map import error_middleware
from crm.http.openapi import build_openapi
from crm.http.routing import JSON_MAX_BODY, SERVICE_KEY, Ctx, Route, register
from crm.http.security_headers import install_security_headers
from crm.migrations import upgrade
from crm.pops.ws import POP_HUB
from crm.ports import Clock
from crm.service import CrmService
from crm.settings import CrmSettings

SETTINGS_KEY = web.AppKey("crm_settings", CrmSettings)
OPENAPI_KEY = web.AppKey("crm_openapi", dict)


async def openapi_doc(ctx: Ctx) -> web.Response:
    return web.json_response(ctx.request.app[OPENAPI_KEY])


def api_routes() -> list[Route]:
    """Every /api route, in one table (router and OpenAPI are both built from it)."""
    return [
        Route(
            "GET", "/api/openapi.json", openapi_doc, "This OpenAPI document", "meta", public=True
        ),
        *handlers_admin.ROUTES,
        *handlers_customers.ROUTES,
        *handlers_work.ROUTES,
        *handlers_desk.ROUTES,
        *handlers_campaigns.ROUTES,
        *handlers_members.ROUTES,
        *handlers_dnc.ROUTES,
        *handlers_hopper.ROUTES,
        *handlers_privacy.ROUTES,
        *handlers_reports.ROUTES,
        *handlers_experiments.ROUTES,
        *handlers_speech.ROUTES,
        *handlers_models.ROUTES,
        *handlers_conversion.ROUTES,
    ]


def create_crm_app(
    settings: CrmSettings, *, service: CrmService | None = None, clock: Clock | None = None,
    extra_routes: Sequence[Route] = (),
) -> web.Application:
    """Build the app. Without ``service`` it opens its own engine on start-up and disposes it
    on clean-up; with one (tests, or a composition root sharing it with the dialer), the caller
    owns its lifetime. ``extra_routes`` (the dialer's, from the composition root) share the
    authentication, the error mapping and the OpenAPI document."""
    # Routes read their bodies bounded (JSON: routing.read_bounded; uploads: their own limit,
    # streamed); aiohttp's own cap covers anything else that reads a whole body.
    app = web.Application(middlewares=[error_middleware], client_max_size=JSON_MAX_BODY)
    install_security_headers(app)  # CSP, nosniff, no framing, no versions (pages and API)
    app[SETTINGS_KEY] = settings
    routes = [*api_routes(), *extra_routes]
    app[OPENAPI_KEY] = build_openapi(routes)
    register(app, routes)

    async def service_ctx(app: web.Application) -> AsyncIterator[None]:
        owned = service is None
        if owned and settings.auto_migrate:
            await asyncio.to_thread(upgrade, settings.database_url)
        svc = service or CrmService.open(settings, clock=clock)
        if owned and settings.auto_migrate:
            await svc.reference.seed_dispositions()
        app[SERVICE_KEY] = svc
        try:
            yield
        finally:
            if owned:
                await svc.close()

    app.cleanup_ctx.append(service_ctx)
    app.cleanup_ctx.append(
        handlers_privacy.retention_sweeper_ctx(settings.retention_sweep_seconds)
    )
    app.cleanup_ctx.append(handlers_models.retrain_job_ctx(settings.model_retrain_seconds))
    app.cleanup_ctx.append(  # the conversion model beside it, same period
        handlers_conversion.conversion_job_ctx(settings.model_retrain_seconds))
    app.on_startup.append(_speech_startup)  # runs after every cleanup_ctx has started
    return app


async def _speech_startup(app: web.Application) -> None:
    """Load the default workflow rules into an empty table; push live transcript lines and
    suggestions through the screen-pop hub when one is mounted (``install_pops``)."""
    svc = app[SERVICE_KEY]
    await svc.rules.seed_defaults_if_empty()
    if POP_HUB in app:
        svc.attach_live(app[POP_HUB])


def crm_service_of(app: web.Application) -> CrmService:
    """The running app's service (for in-process callers, e.g. the dialer)."""
    return app[SERVICE_KEY]
