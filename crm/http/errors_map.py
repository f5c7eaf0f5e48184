"""The one place CRM errors (and bad JSON) become HTTP responses:
``{"error": id, "message": ..., "details": ...}``, the message in the request's language.

Errors are raised with an English message; :func:`error_response` keeps how to say the body in
another language on the response, and :func:`error_middleware` (every route runs under it) says
it in the request's language (:func:`crm.http.messages.request_language`: ``?lang=``, the
``lang`` cookie, Accept-Language; English for a client that names none)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
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
    TooLargeError,
    TooManyAttemptsError,
)
from crm.http import messages

log = logging.getLogger(__name__)

STATUS: list[tuple[type[CrmError], int]] = [
    (InvalidInputError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (GoneError, 410),
    (TooLargeError, 413),
    (TooManyAttemptsError, 429),
    (CrmError, 400),
]


Localize = Callable[[str], dict[str, Any]]  # an error body said in a language ("en", "zh")
ERROR_BODY: web.ResponseKey[Localize] = web.ResponseKey("crm_error_body")  # its Localize


def error_response(
    status: int, error: str, message: str, details: dict[str, Any] | None = None,
    *, localize: Localize | None = None, headers: dict[str, str] | None = None,
) -> web.Response:
    """The error body, English; ``localize`` says it in another language (default: by error
    id and sentence, :func:`crm.http.messages.localize_body`)."""
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="dialcrm"'}
    body = {"error": error, "message": message, "details": details or {}}
    response = web.json_response(body, status=status, headers=headers)
    response[ERROR_BODY] = localize or partial(messages.localize_body, body=body)
    return response


def localized(response: web.StreamResponse, lang: str) -> web.StreamResponse:
    """An error response (from :func:`error_response`) said in ``lang``; others unchanged."""
    render = response.get(ERROR_BODY)
    if (render is None or lang == messages.DEFAULT_LANGUAGE or response.prepared
            or not isinstance(response, web.Response)):
        return response
    response.text = json.dumps(render(lang), ensure_ascii=False)
    return response


def from_crm_error(exc: CrmError) -> web.Response:
    status = next(code for kind, code in STATUS if isinstance(exc, kind))
    headers = (
        {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttemptsError) else None
    )
    return error_response(status, exc.error_id, exc.message, exc.details, headers=headers)


def from_validation_error(exc: pydantic.ValidationError, where: str) -> web.Response:
    """The first problem names the field; every problem (up to 20) is listed, each said by its
    code (pydantic's ``type``) and limits in the request's language."""
    errors = exc.errors()[:20]

    def body(lang: str) -> dict[str, Any]:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]),
             "message": messages.problem(lang, e["type"], e.get("ctx"), e["msg"])}
            for e in errors
        ]
        field = problems[0]["field"] or where
        return {"error": "invalid_input", "message": f"{field}: {problems[0]['message']}",
                "details": {"field": field, "in": where, "problems": problems}}

    english = body(messages.DEFAULT_LANGUAGE)
    return error_response(400, english["error"], english["message"], english["details"],
                          localize=body)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    return localized(await _respond(request, handler), messages.request_language(request))


async def _respond(request: web.Request, handler: Handler) -> web.StreamResponse:
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
