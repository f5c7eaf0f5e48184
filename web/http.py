"""What the web shell's JSON routes share: strict request bodies, the request schemas of a
campaign's dialing settings (built from their one definition), and the one mapping of the
dialer's errors to ``{"error", "message", "details"}`` responses (the CRM's own errors are
mapped by :mod:`crm.http.errors_map`). The message is built in English here and said in the
request's language by the same edge (``error_response`` + ``error_middleware``, with the tables
of :mod:`crm.http.messages`: by error id, by field, by the dialer's sentence)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from ari_app.dialer.errors import (
    AgentPhoneUnavailable,
    Conflict,
    DialerUseCaseError,
    InvalidRequest,
    NotFound,
)
from ari_app.dialer.model import InvalidCampaignConfig
from ari_app.errors import TelephonyError
from crm.domain.dialing_settings import BY_NAME, SettingSpec
from crm.http.errors_map import error_response
from crm.http.routing import Ctx

log = logging.getLogger(__name__)


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def settings_model(name: str, fields: Iterable[str], *,
                   fill: Literal["default", "none", "required"] = "default",
                   doc: str = "") -> type[BaseModel]:
    """A strict request schema of the dialing settings ``fields``
    (:mod:`crm.domain.dialing_settings`): their types, choices, ranges and lengths; a field left
    out takes its setting's default (``fill="default"``), ``None`` (``"none"``: a patch), or is
    refused (``"required"``). The text patterns are documented in the schema and checked by
    the settings' own rules (:func:`crm.domain.dialing_settings.problems`), which name what is
    expected."""
    specs = [BY_NAME[f] for f in fields]
    model = create_model(name, __base__=StrictIn, __doc__=doc or None,
                         **{s.name: _field(s, fill) for s in specs})  # type: ignore[call-overload]
    return model


def _field(spec: SettingSpec, fill: str) -> tuple[Any, Any]:
    kind: Any = spec.type
    limits: dict[str, Any] = {}
    if spec.choices:
        kind = Literal[spec.choices]
    elif spec.type is tuple:
        word = Annotated[str, StringConstraints(min_length=1, max_length=spec.max_length)]
        kind, limits["max_length"] = list[word], spec.max_items
    elif spec.type is str:
        limits["max_length"] = spec.max_length
        if spec.pattern:
            limits["json_schema_extra"] = {"pattern": spec.pattern}
    if spec.low is not None:
        limits.update(ge=spec.low, le=spec.high)
    if spec.help:
        limits["description"] = spec.help
    if fill == "none":
        return kind | None, Field(None, **limits)
    if fill == "required":
        return kind, Field(**limits)
    if spec.type is tuple:
        return kind, Field(default_factory=list, **limits)
    return kind, Field(spec.default, **limits)


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
        except AgentPhoneUnavailable as exc:
            details: dict[str, object] = {"field": exc.field}
            if exc.detail:  # Asterisk's words stay in the log, under a reference
                details["ref"] = _logged(ctx, exc.detail)
            return error_response(409, exc.code, str(exc), details)
        except Conflict as exc:
            return error_response(409, exc.code, str(exc), {"field": exc.field})
        except DialerUseCaseError as exc:
            return error_response(400, exc.code, str(exc), {})
        except TelephonyError as exc:
            ref = _logged(ctx, str(exc))
            return error_response(503, "telephony_unavailable",
                                  f"telephony unavailable (ref {ref})", {"ref": ref})

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _logged(ctx: Ctx, detail: str) -> str:
    """Log what Asterisk said (ARI/AMI text: channel names, paths, versions) under a short
    reference the client gets instead."""
    ref = secrets.token_hex(4)
    log.warning("telephony error ref %s on %s %s: %s", ref, ctx.request.method,
                ctx.request.path, detail)
    return ref
