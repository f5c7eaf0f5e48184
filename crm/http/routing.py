"""One route table for the router *and* the OpenAPI document, and the request wrapper that
authenticates, checks roles, validates query and body, and calls the handler.

Bodies are read bounded, while they stream (a chunked body is counted as it arrives, not
trusted by its Content-Length): a JSON body over its route's ``max_body`` (1 MiB unless the
route says less, e.g. the login) is refused with 413 naming the limit; a big one is parsed off
the event loop; one nested too deeply for the parser is a 400 naming the body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic
from aiohttp import web

from crm.domain.access import Principal, require_role
from crm.domain.enums import Role
from crm.errors import (
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    TooLargeError,
)
from crm.http.errors_map import from_validation_error
from crm.service import CrmService

SESSION_COOKIE = "dialcrm_session"
SERVICE_KEY = web.AppKey("crm_service", CrmService)
ANY_ROLE: tuple[Role, ...] = tuple(Role)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
JSON_MAX_BODY = 1024 * 1024  # a JSON body, unless its route says less
SMALL_MAX_BODY = 4 * 1024  # credentials and the like (the login)
OFF_LOOP_BYTES = 64 * 1024  # a JSON body this big is parsed in a worker thread
READ_CHUNK = 64 * 1024


@dataclass
class Ctx:
    request: web.Request
    service: CrmService
    principal: Principal | None
    query: Any = None
    body: Any = None

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise AuthenticationError("authentication required")
        return self.principal

    def path_param(self, name: str) -> str:
        return self.request.match_info[name]


HandlerFn = Callable[[Ctx], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: HandlerFn
    summary: str
    tag: str
    roles: tuple[Role, ...] = ANY_ROLE  # admin is always allowed
    public: bool = False
    query: type[pydantic.BaseModel] | None = None
    body: type[pydantic.BaseModel] | None = None
    body_validated_by_handler: bool = False  # documented schema, handler parses (e.g. events)
    raw_body_types: tuple[str, ...] = ()  # non-JSON bodies (file uploads)
    max_body: int = JSON_MAX_BODY  # bytes of a JSON body (raw bodies: the handler's own limit)
    responses: Mapping[int, str] = field(default_factory=lambda: {200: "OK"})


async def authenticate(request: web.Request, service: CrmService) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("expected 'Authorization: Bearer <token>'")
        return await service.auth.principal_for_token(token.strip())
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    principal = await service.auth.principal_for_session(session_id)
    origin = request.headers.get("Origin")
    if request.method in UNSAFE and origin and origin.split("://")[-1] != request.host:
        raise PermissionDeniedError("cross-origin request with a session cookie")
    return principal


def _validate(model: type[pydantic.BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _Invalid(from_validation_error(exc, where)) from None


class _Invalid(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


async def bounded_chunks(
    request: web.Request, limit: int, field: str = "body", chunk: int = READ_CHUNK,
) -> AsyncIterator[bytes]:
    """The body as it streams, refused (:class:`TooLargeError`, 413) as soon as it passes
    ``limit`` bytes: at once when Content-Length says so, else when the count does (chunked)."""
    if (request.content_length or 0) > limit:
        raise TooLargeError(field, limit)
    size = 0
    async for data in request.content.iter_chunked(chunk):
        size += len(data)
        if size > limit:
            raise TooLargeError(field, limit)
        yield data


async def read_bounded(request: web.Request, limit: int, field: str = "body") -> bytes:
    """The whole body, at most ``limit`` bytes (see :func:`bounded_chunks`)."""
    buf = bytearray()
    async for data in bounded_chunks(request, limit, field):
        buf += data
    return bytes(buf)


def parse_json(raw: bytes, field: str = "body") -> Any:
    """JSON bytes → value; not UTF-8, not JSON or nested too deeply → 400 naming ``field``."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInputError(field, f"the {field} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(field, f"{field} is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise InvalidInputError(field, f"the {field} is nested too deeply") from None


async def _json_body(request: web.Request, limit: int) -> Any:
    if not request.can_read_body:
        raise InvalidInputError("body", "a JSON body is required")
    if request.content_type not in ("application/json", ""):
        raise InvalidInputError("body", "Content-Type must be application/json")
    raw = await read_bounded(request, limit)
    if len(raw) > OFF_LOOP_BYTES:  # a big document: parse it without stalling other requests
        return await asyncio.to_thread(parse_json, raw)
    return parse_json(raw)


def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        service = request.app[SERVICE_KEY]
        principal = None if route.public else await authenticate(request, service)
        if not route.public:
            if principal is None:
                raise AuthenticationError("authentication required")
            require_role(principal, *route.roles)
        ctx = Ctx(request, service, principal)
        try:
            if route.query is not None:
                ctx.query = _validate(route.query, dict(request.query), "query")
            if route.body is not None and not route.body_validated_by_handler:
                ctx.body = _validate(route.body, await _json_body(request, route.max_body),
                                     "body")
            elif route.body_validated_by_handler:
                ctx.body = await _json_body(request, route.max_body)
        except _Invalid as bad:
            return bad.response
        return await route.handler(ctx)

    handle.__name__ = route.handler.__name__
    return handle


def register(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, wrap(route))
