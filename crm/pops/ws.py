"""``GET /ws/agent``: the agent window's screen-pop WebSocket.

Authenticated like the API (bearer token or the ``dialcrm_session`` cookie). Agents get their
own pops; a manager (or admin) may watch an agent with ``?agent=<username>``. ``?lang=zh|en``
picks the language of the recommended script in the pops built for this agent.

The server pushes; the page only renders. The first messages on a new socket are the agent's
current state (``hello``, the last ``agent_state``, the last ``pop``). aiohttp's heartbeat
(ping/pong) closes dead sockets; the hub's ``heartbeat`` messages keep idle ones busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial

from aiohttp import WSCloseCode, WSMsgType, web

from crm.domain.access import Principal, may_manage_agent
from crm.domain.enums import Role
from crm.errors import AuthenticationError, InvalidInputError, PermissionDeniedError
from crm.http.routing import SERVICE_KEY, SESSION_COOKIE, authenticate
from crm.pops.hub import PopHub

log = logging.getLogger(__name__)

POP_HUB = web.AppKey("pop_hub", PopHub)
WATCHERS = (Role.MANAGER, Role.ADMIN)
SOCKET_ROLES = (Role.AGENT, Role.MANAGER, Role.ADMIN)


def watched_agent(principal: Principal, requested: str | None) -> str:
    """Whose pops this caller may receive: their own, or (managers) the agent they name."""
    if principal.role not in SOCKET_ROLES:
        raise PermissionDeniedError(f"role {principal.role.value} has no screen pops")
    if not requested or requested == principal.username:
        return principal.username
    if principal.role not in WATCHERS:
        raise PermissionDeniedError(
            "agents receive only their own screen pops", details={"field": "agent"}
        )
    if len(requested) > 64:
        raise InvalidInputError("agent", "a username of at most 64 characters")
    return requested


def check_origin(request: web.Request) -> None:
    """A cookie-authenticated socket must come from our own pages (no cross-site hijacking)."""
    origin = request.headers.get("Origin")
    if request.headers.get("Authorization") or SESSION_COOKIE not in request.cookies:
        return
    if origin and origin.split("://")[-1] != request.host:
        raise PermissionDeniedError("cross-origin WebSocket with a session cookie")


async def agent_socket(request: web.Request) -> web.StreamResponse:
    principal = await authenticate(request, request.app[SERVICE_KEY])
    if principal is None:
        raise AuthenticationError("authentication required")
    agent_id = watched_agent(principal, request.query.get("agent"))
    if agent_id != principal.username:  # a manager watches only the agents of their campaigns
        service = request.app[SERVICE_KEY]
        may_manage_agent(principal, await service.access.agent_named(agent_id, missing_ok=True))
    check_origin(request)
    hub = request.app[POP_HUB]
    ws = web.WebSocketResponse(heartbeat=max(hub.heartbeat_s, 1.0), max_msg_size=4096)
    await ws.prepare(request)
    lang = request.query.get("lang")
    conn = hub.connect(
        agent_id,
        ws.send_str,
        partial(close_socket, request, ws),
        language=lang if lang in ("zh", "en") else None,
    )
    writer = asyncio.create_task(conn.run(), name=f"pops-writer-{agent_id}")
    log.debug("pops: %s connected for agent %s", principal.username, agent_id)
    try:
        async for msg in ws:  # the page sends nothing we need; read to see pongs and close
            if msg.type is WSMsgType.ERROR:
                break
    finally:
        hub.disconnect(conn)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


async def close_socket(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Close politely; a peer that does not even take the close frame is cut off."""
    try:
        async with asyncio.timeout(0.5):
            await ws.close(code=WSCloseCode.GOING_AWAY)
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()


def install_pops(app: web.Application, hub: PopHub | None = None) -> PopHub:
    """Mount ``/ws/agent`` and the hub (with its heartbeat task) on a CRM app."""
    hub = hub or PopHub()
    app[POP_HUB] = hub
    app.router.add_get("/ws/agent", agent_socket)

    async def heartbeat_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(hub.heartbeat(), name="pops-heartbeat")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(heartbeat_ctx)
    app.on_shutdown.append(lambda app: hub.close_all())
    return hub
