"""The conversion model and the routes it gives customers (issue 5 item 4): the model's card
and route shares, a customer's route and a manager's override, agents' seniority; the
periodic retrain-and-rescore job."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm.domain.access import may_manage_agent, may_manage_customer, may_see_customer
from crm.domain.enums import Role
from crm.http import messages
from crm.http._jobs import job_ctx
from crm.http.routing import SERVICE_KEY, Ctx, Route
from crm.http.views import ok
from crm.services.common import parse_uuid
from crm.services.conversion_models import ConversionService

log = logging.getLogger(__name__)
MANAGERS = (Role.MANAGER,)
STAFF = (Role.AGENT, Role.MANAGER)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RetrainIn(_In):
    model_config = ConfigDict(extra="forbid", strict=True)

    force: bool = False


class RouteIn(_In):
    route: Literal["senior", "standard", "nurture"] | None = Field(
        description="the route to force for this customer; null: back to the model's")
    reason: str | None = Field(None, max_length=300)


class SeniorityIn(_In):
    seniority: Literal["senior", "standard"]


async def conversion_model(ctx: Ctx) -> web.Response:
    summary = await ctx.service.conversion.summary()
    return ok(messages.texts(messages.request_language(ctx.request), summary, "message"))


async def conversion_retrain(ctx: Ctx) -> web.Response:
    body: RetrainIn = ctx.body
    run = await ctx.service.conversion.retrain(force=body.force)
    lang = messages.request_language(ctx.request)
    summary = await ctx.service.conversion.summary()
    return ok({**messages.texts(lang, dataclasses.asdict(run), "why"),
               "model": messages.texts(lang, summary, "message")})


async def customer_route(ctx: Ctx) -> web.Response:
    customer_id = parse_uuid(ctx.path_param("customer_id"), "customer_id")
    await ctx.service.customers.get(customer_id)  # 404 for an unknown customer
    may_see_customer(ctx.who, await ctx.service.access.customer(customer_id))
    return ok(await ctx.service.conversion.route_of(customer_id))


async def override_route(ctx: Ctx) -> web.Response:
    body: RouteIn = ctx.body
    customer_id = parse_uuid(ctx.path_param("customer_id"), "customer_id")
    may_manage_customer(ctx.who, await ctx.service.access.customer(customer_id))
    return ok(await ctx.service.conversion.override(customer_id, body.route, body.reason,
                                                    ctx.who.user_id))


async def list_seniority(ctx: Ctx) -> web.Response:
    return ok({"items": await ctx.service.agent_skills.list()})


async def set_seniority(ctx: Ctx) -> web.Response:
    body: SeniorityIn = ctx.body
    may_manage_agent(ctx.who, await ctx.service.access.agent_named(ctx.path_param("username")))
    return ok(await ctx.service.agent_skills.set(ctx.path_param("username"), body.seniority,
                                                 ctx.who.user_id))


ROUTES = [
    Route("GET", "/api/models/conversion", conversion_model,
          "The conversion model: version, held-out Brier / log-loss / AUC / reliability, "
          "routing thresholds and the share of customers per route", "models", MANAGERS),
    Route("POST", "/api/models/conversion/retrain", conversion_retrain,
          "Retrain when due (force: now) and rescore every customer", "models", MANAGERS,
          body=RetrainIn),
    Route("GET", "/api/customers/{customer_id}/route", customer_route,
          "The customer's conversion route, P(convert) and why", "customers", STAFF,
          responses={200: "OK", 404: "no such customer"}),
    Route("PUT", "/api/customers/{customer_id}/route", override_route,
          "A manager's route for the customer (null: back to the model's)", "customers",
          MANAGERS, body=RouteIn, responses={200: "OK", 400: "bad route", 404: "no customer"}),
    Route("GET", "/api/agents/seniority", list_seniority,
          "Agents and their seniority (senior agents get senior-route leads first)", "models",
          MANAGERS),
    Route("PUT", "/api/agents/{username}/seniority", set_seniority,
          "Set an agent's seniority (applies at their next dialer login)", "models", MANAGERS,
          body=SeniorityIn, responses={200: "OK", 400: "bad seniority", 404: "no such agent"}),
]


async def rescore_forever(conversion: ConversionService, interval_s: float) -> None:
    """Every ``interval_s``: retrain when due, rescore every customer."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            run = await conversion.retrain()
            log.info("conversion model: %s (%d customers scored)", run.why, run.scored)
        except Exception:  # noqa: BLE001 - one failed round must not stop the job
            log.exception("conversion model: retrain round failed")


def conversion_job_ctx(interval_seconds: int
                       ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running :func:`rescore_forever` (0: off); cancelled on clean-up."""
    if interval_seconds <= 0:
        return job_ctx("crm-conversion-model-retrain", None)
    return job_ctx("crm-conversion-model-retrain", lambda app: rescore_forever(
        app[SERVICE_KEY].conversion, interval_seconds))
