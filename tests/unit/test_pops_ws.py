"""``/ws/agent`` through aiohttp's test client: auth, who watches whom, slow sockets, reconnect."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from crm.app import create_crm_app
from crm.pops import PopHub, install_pops
from crm.service import CrmService
from crm.settings import CrmSettings


@pytest.fixture
async def pops(
    crm_settings: CrmSettings, crm_service: CrmService, crm_actors: Any
) -> AsyncIterator[tuple[TestClient, PopHub]]:
    app = create_crm_app(crm_settings, service=crm_service)
    hub = install_pops(app, PopHub(queue_size=16, heartbeat_s=30))
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, hub
    await client.close()


def pop(call_id: str, name: str = "王伟", pad: int = 0) -> dict[str, Any]:
    return {
        "type": "pop",
        "call_id": call_id,
        "state": "ringing",
        "number": "+8613800138090",
        "customer": {"name": name, "notes": "x" * pad},
        "ts": time.time(),
    }


async def next_of(
    ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 2.0
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads(await ws.receive_str())
            if msg["type"] == kind:
                return msg


async def test_given_no_credentials_when_connecting_then_refused_with_json_error(pops) -> None:
    client, _ = pops
    resp = await client.get(
        "/ws/agent",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert resp.status == 401
    assert (await resp.json())["error"] == "unauthenticated"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/agent", headers={"Authorization": "Bearer nope"})
    assert refused.value.status == 401


async def test_given_agent_when_watching_another_agent_then_forbidden(pops, crm_actors) -> None:
    client, _ = pops
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/agent?agent=agent2", headers=crm_actors["agent"].headers)
    assert refused.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as machine:
        await client.ws_connect("/ws/agent", headers=crm_actors["dialer"].headers)
    assert machine.value.status == 403


async def test_given_session_cookie_when_agent_connects_then_gets_only_own_pops(
    pops, crm_actors
) -> None:
    client, hub = pops
    login = await client.post(
        "/api/auth/login", json={"username": "agent", "password": "password-1"}
    )
    assert login.status == 200
    ws = await client.ws_connect("/ws/agent")  # the cookie jar carries dialcrm_session
    assert (await next_of(ws, "hello"))["agent_id"] == "agent"

    hub.deliver("agent2", pop("call-other", "李娜"))
    hub.deliver("agent", pop("call-mine"))

    got = await next_of(ws, "pop")
    assert got["call_id"] == "call-mine" and got["customer"]["name"] == "王伟"
    await ws.close()


async def test_given_cookie_from_other_origin_when_connecting_then_forbidden(pops) -> None:
    client, _ = pops
    await client.post("/api/auth/login", json={"username": "agent", "password": "password-1"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/agent", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


async def test_given_manager_when_watching_agent_then_gets_that_agents_pops(
    pops, crm_actors
) -> None:
    client, hub = pops
    ws = await client.ws_connect("/ws/agent?agent=agent", headers=crm_actors["manager"].headers)
    await next_of(ws, "hello")
    hub.deliver("agent", pop("call-7"))
    assert (await next_of(ws, "pop"))["call_id"] == "call-7"
    await ws.close()


async def test_given_call_in_progress_when_page_reconnects_then_current_state_at_once(
    pops, crm_actors
) -> None:
    client, hub = pops
    headers = crm_actors["agent"].headers
    first = await client.ws_connect("/ws/agent", headers=headers)
    hub.deliver(
        "agent", {"type": "agent_state", "state": "on_call", "pause_code": None, "since": 100.0}
    )
    hub.deliver("agent", pop("call-3"))
    await next_of(first, "pop")
    await first.close()
    hub.deliver(
        "agent",
        {"type": "call_state", "call_id": "call-3", "state": "connected", "ts": time.time()},
    )

    again = await client.ws_connect("/ws/agent", headers=headers)
    types = [json.loads(await again.receive_str(timeout=1))["type"] for _ in range(3)]
    assert types == ["hello", "agent_state", "pop"]
    hub.deliver("agent", pop("call-4"))
    assert (await next_of(again, "pop"))["call_id"] == "call-4"
    current = hub.current("agent")
    assert current[1]["call_id"] == "call-4" and current[0]["state"] == "on_call"
    await again.close()


def _stalled_socket(host: str, port: int, token: str) -> socket.socket:
    """A raw WebSocket client with a tiny receive buffer that never reads after the handshake."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/agent HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_given_stalled_browser_when_pops_flow_then_fast_socket_is_not_delayed(
    pops, crm_actors
) -> None:
    client, hub = pops
    host, port = client.server.host, client.server.port
    stalled = await asyncio.to_thread(_stalled_socket, host, port, crm_actors["agent"].token)
    fast = await client.ws_connect("/ws/agent", headers=crm_actors["agent"].headers)
    await next_of(fast, "hello")
    slow_conn, fast_conn = hub.connections("agent")  # in the order they connected

    latencies, n = [], 60
    for i in range(n):  # 60 × ~256 KB: far more than the stalled socket's buffers take
        sent = time.perf_counter()
        hub.deliver("agent", pop(f"call-{i}", pad=256 * 1024))
        got = await next_of(fast, "pop")
        latencies.append(time.perf_counter() - sent)
        assert got["call_id"] == f"call-{i}"

    slow_sent = slow_conn.sent
    stalled.close()
    p95 = statistics.quantiles(latencies, n=20)[18]
    assert slow_sent < n / 2, f"the stalled socket took {slow_sent} pops: it was not stalled"
    assert slow_conn.resyncs >= 1, "its queue overflowed and was resynced"
    assert p95 < 0.25, f"fast socket p95 {p95 * 1000:.0f} ms while the other was stalled"
    await fast.close()
