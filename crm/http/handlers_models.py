"""/api/models/answer: the answer-probability model the hopper scores leads with (managers and
admins), and why a lead's retries were moved to their best hour; the periodic retrain job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from crm.domain.access import may_see_campaign_data
from crm.domain.enums import Role
from crm.http import messages
from crm.http._jobs import job_ctx
from crm.http.routing import SERVICE_KEY, Ctx, Route
from crm.http.views import ok
from crm.services.answer_models import AnswerModelService
from crm.services.common import parse_uuid

log = logging.getLogger(__name__)
MANAGERS = (Role.MANAGER,)


class RetrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    force: bool = False


def _said(ctx: Ctx, status: dict[str, Any]) -> dict[str, Any]:
    """The model status's sentences (``message``, the last run's ``result``) in the request's
    language."""
    lang = messages.request_language(ctx.request)
    out = messages.texts(lang, status, "message", "result")
    if isinstance(out.get("last_run"), dict):
        out["last_run"] = messages.texts(lang, out["last_run"], "result")
    return out


async def answer_model(ctx: Ctx) -> web.Response:
    return ok(_said(ctx, await ctx.service.answer_models.status()))


async def answer_version(ctx: Ctx) -> web.Response:
    version = ctx.path_param("version")
    return ok(await asyncio.to_thread(ctx.service.answer_models.version, version))


async def retrain(ctx: Ctx) -> web.Response:
    body: RetrainIn = ctx.body
    run = await ctx.service.answer_models.retrain(force=body.force)
    return ok({**_said(ctx, run), "model": _said(ctx, await ctx.service.answer_models.status())})


async def lead_best_time(ctx: Ctx) -> web.Response:
    lead_id = parse_uuid(ctx.path_param("lead_id"), "lead_id")
    may_see_campaign_data(ctx.who, await ctx.service.access.lead(lead_id))
    return ok({"items": await ctx.service.answer_models.best_time_log(lead_id)})


ROUTES = [
    Route("GET", "/api/models/answer", answer_model,
          "The answer model in use: version, trained_at, rows, Brier, log-loss, reliability "
          "table; or 'prior only' while history is thin", "models", MANAGERS),
    Route("GET", "/api/models/answer/versions/{version}", answer_version,
          "One stored answer-model version and its held-out metrics", "models", MANAGERS,
          responses={200: "OK", 400: "malformed version id", 404: "no such version"}),
    Route("POST", "/api/models/answer/retrain", retrain,
          "Run the retrain check now (force: train a new version when history suffices)",
          "models", MANAGERS, body=RetrainIn),
    Route("GET", "/api/leads/{lead_id}/best-time", lead_best_time,
          "Why the lead's retries were moved to their best hour (newest first)", "models",
          MANAGERS),
]


async def retrain_forever(models: AnswerModelService, interval_s: float) -> None:
    """Load the model state at once, then check ``retrain_if_due`` every ``interval_s``."""
    try:
        await models.state()
    except Exception:  # noqa: BLE001 - a failed load is retried at the next round
        log.exception("answer model: initial load failed")
    while True:
        await asyncio.sleep(interval_s)
        try:
            await models.retrain()
        except Exception:  # noqa: BLE001 - one failed round must not stop the job
            log.exception("answer model: retrain round failed")


def retrain_job_ctx(interval_seconds: int
                    ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running :func:`retrain_forever` (0: off); cancelled on clean-up."""
    if interval_seconds <= 0:
        return job_ctx("crm-answer-model-retrain", None)
    return job_ctx("crm-answer-model-retrain", lambda app: retrain_forever(
        app[SERVICE_KEY].answer_models, interval_seconds))
