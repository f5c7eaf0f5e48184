"""The one place CRM errors (and bad JSON) become HTTP responses:
``{"error": id, "message": ..., "details": ...}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pydantic
from aiohttp import web

from crm.errors import (
    AuthenticationError,
    ConflictError,
    CrmError,
    GoneError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

log = logging.getLogger(__name__)

STATUS: list[tuple[type[CrmError], int]] = [
    (InvalidInputError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (GoneError, 410),
    (CrmError, 400),
]


def error_response(
    status: int, error: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="dialcrm"'} if status == 401 else None
    return web.json_response(
        {"error": error, "message": message, "details": details or {}},
        status=status,
        headers=headers,
    )


def from_crm_error(exc: CrmError) -> web.Response:
    status = next(code for kind, code in STATUS if isinstance(exc, kind))
    return error_response(status, exc.error_id, exc.message, exc.details)


def from_validation_error(exc: pydantic.ValidationError, where: str) -> web.Response:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or where
    problems = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
        for e in exc.errors()[:20]
    ]
    return error_response(
        400,
        "invalid_input",
        f"{field}: {first['msg']}",
        {"field": field, "in": where, "problems": problems},
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CrmError as exc:
        return from_crm_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _http_error_id(exc.status), exc.reason)
    except json.JSONDecodeError as exc:
        return error_response(
            400, "invalid_input", f"body is not valid JSON: {exc.msg}", {"field": "body"}
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error")


def _http_error_id(status: int) -> str:
    return {
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
        415: "unsupported_media_type",
    }.get(status, "http_error")
