"""/api/experiments: A/B experiments (managers define, stop and read them; the dialer and
managers ask for a unit's variant)."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from crm.db.models_experiments import Experiment
from crm.domain.access import may_change_owned
from crm.domain.enums import Role
from crm.http import messages
from crm.http.routing import Ctx, Route
from crm.http.schemas import PageQuery, _In, _Query
from crm.http.views import ok, page_json, row
from crm.services.common import parse_uuid


class VariantIn(_In):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="e.g. on, off, A, B")
    weight: float = Field(1.0, gt=0, le=1000, description="relative share of units")


class ExperimentIn(_In):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$",
                     description="stable key the app asks variant_for() with, e.g. pop-2026q1")
    name: str = Field(min_length=1, max_length=200)
    feature: Literal["pop", "script", "pacing", "other"]
    unit: Literal["agent", "lead"]
    variants: list[VariantIn] = Field(min_length=2, max_length=10,
                                      description="the first is the control")
    description: str | None = Field(None, max_length=2000)


class ExperimentListQuery(PageQuery):
    status: Literal["running", "stopped"] | None = None


class ReportQuery(_Query):
    format: Literal["json", "csv"] = "json"


class VariantQuery(_Query):
    key: str = Field(min_length=1, max_length=64)
    unit_id: str = Field(min_length=1, max_length=128)


def experiment_json(exp: Experiment) -> dict[str, Any]:
    return row(exp)


def _id(ctx: Ctx) -> Any:
    return parse_uuid(ctx.path_param("experiment_id"), "experiment_id")


async def create_experiment(ctx: Ctx) -> web.Response:
    body: ExperimentIn = ctx.body
    exp = await ctx.service.experiments.create(body.model_dump(), actor_id=ctx.who.user_id)
    return ok(experiment_json(exp), 201)


async def list_experiments(ctx: Ctx) -> web.Response:
    q: ExperimentListQuery = ctx.query
    page = await ctx.service.experiments.list(status=q.status, limit=q.limit, offset=q.offset)
    return ok(page_json(page, experiment_json))


async def get_experiment(ctx: Ctx) -> web.Response:
    return ok(experiment_json(await ctx.service.experiments.get(_id(ctx))))


async def stop_experiment(ctx: Ctx) -> web.Response:
    may_change_owned(ctx.who, (await ctx.service.experiments.get(_id(ctx))).created_by,
                     "experiment")
    exp = await ctx.service.experiments.stop(_id(ctx), actor_id=ctx.who.user_id)
    return ok(experiment_json(exp))


async def list_assignments(ctx: Ctx) -> web.Response:
    q: PageQuery = ctx.query
    page = await ctx.service.experiments.assignments(_id(ctx), limit=q.limit, offset=q.offset)
    return ok(page_json(page))


async def experiment_report(ctx: Ctx) -> web.Response:
    q: ReportQuery = ctx.query
    report = await ctx.service.experiments.report(_id(ctx))
    if q.format == "csv":
        return web.Response(
            text=report.csv(), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition":
                     f'attachment; filename="experiment-{report.experiment.key}.csv"'})
    return ok(messages.texts(messages.request_language(ctx.request), report.json(), "notes"))


async def variant_for(ctx: Ctx) -> web.Response:
    q: VariantQuery = ctx.query
    variant = await ctx.service.experiments.variant_for(q.key, q.unit_id)
    return ok({"key": q.key, "unit_id": q.unit_id, "variant": variant,
               "running": variant is not None})


M = (Role.MANAGER,)
ROUTES = [
    Route("POST", "/api/experiments", create_experiment, "Define (and start) an A/B experiment",
          "experiments", M, body=ExperimentIn,
          responses={201: "created", 409: "key taken / same feature already running"}),
    Route("GET", "/api/experiments", list_experiments, "List experiments", "experiments", M,
          query=ExperimentListQuery),
    Route("GET", "/api/experiments/variant", variant_for,
          "The variant of a unit in a running experiment (recorded on first use)",
          "experiments", (Role.MANAGER, Role.DIALER), query=VariantQuery),
    Route("GET", "/api/experiments/{experiment_id}", get_experiment, "One experiment",
          "experiments", M),
    Route("POST", "/api/experiments/{experiment_id}/stop", stop_experiment,
          "Stop an experiment (assignments and report stay)", "experiments", M,
          responses={200: "stopped", 409: "already stopped"}),
    Route("GET", "/api/experiments/{experiment_id}/assignments", list_assignments,
          "Recorded assignments (unit -> variant)", "experiments", M, query=PageQuery),
    Route("GET", "/api/experiments/{experiment_id}/report", experiment_report,
          "Per-variant talk time, conversion and abandon rate with 95 % CIs (JSON or CSV)",
          "experiments", M, query=ReportQuery),
]
