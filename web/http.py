"""What the web shell's JSON routes share: strict request bodies and the one mapping of the
dialer's errors to ``{"error", "message", "details"}`` responses (the CRM's own errors are
mapped by :mod:`crm.http.errors_map`). The message is built in English here and said in the
request's language by the same edge (``error_response`` + ``error_middleware``, with the tables
of :mod:`crm.http.messages`: by error id, by field, by the dialer's sentence)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from ari_app.dialer.errors import (
    AgentPhoneUnavailable,
    Conflict,
    DialerUseCaseError,
    InvalidRequest,
    NotFound,
)
from ari_app.dialer.model import InvalidCampaignConfig
from ari_app.errors import TelephonyError
from crm.http.errors_map import error_response
from crm.http.routing import Ctx


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


def dialer_errors(handler: Handler) -> Handler:
    async def run(ctx: Ctx) -> web.StreamResponse:
        try:
            return await handler(ctx)
        except InvalidCampaignConfig as exc:
            field, why = exc.problems[0]
            return error_response(400, "invalid_input", f"{field}: {why}",
                                  {"field": field, "problems": dict(exc.problems)})
        except InvalidRequest as exc:
            return error_response(400, exc.code, str(exc), {"field": exc.field})
        except NotFound as exc:
            return error_response(404, exc.code, str(exc), {"field": exc.field})
        except (Conflict, AgentPhoneUnavailable) as exc:
            return error_response(409, exc.code, str(exc), {"field": exc.field})
        except DialerUseCaseError as exc:
            return error_response(400, exc.code, str(exc), {})
        except TelephonyError as exc:
            return error_response(503, "telephony_unavailable", str(exc), {})

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


