"""The screen-pop hub on its own: per-socket queues, current state, overflow and stuck sockets."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from crm.pops import PopHub


class FakeSocket:
    """A socket whose ``send`` may be slow; records what it got and when."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.closed = False
        self.arrived = asyncio.Event()

    async def send(self, text: str) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.got.append((time.perf_counter(), json.loads(text)))
        self.arrived.set()

    async def close(self) -> None:
        self.closed = True

    def types(self) -> list[str]:
        return [m["type"] for _, m in self.got]

    async def wait_for(self, predicate: Any, timeout: float = 2.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for _, msg in self.got:
                    if predicate(msg):
                        return msg
                self.arrived.clear()
                await self.arrived.wait()


def pop(call_id: str, name: str = "王伟", state: str = "ringing") -> dict[str, Any]:
    return {
        "type": "pop",
        "call_id": call_id,
        "state": state,
        "number": "+8613800138090",
        "customer": {"name": name},
        "ts": time.time(),
    }


def run(hub: PopHub, agent: str, sock: FakeSocket, **kw: Any) -> asyncio.Task[None]:
    conn = hub.connect(agent, sock.send, sock.close, **kw)
    return asyncio.create_task(conn.run())


async def test_given_pop_and_agent_state_when_page_connects_then_current_state_first() -> None:
    hub = PopHub()
    hub.deliver("a1", {"type": "agent_state", "state": "on_call", "since": 1.0})
    hub.deliver("a1", pop("call-1"))
    hub.deliver("a1", {"type": "call_state", "call_id": "call-1", "state": "connected", "ts": 2})
    sock = FakeSocket()
    task = run(hub, "a1", sock)

    await sock.wait_for(lambda m: m["type"] == "pop")

    assert sock.types() == ["hello", "agent_state", "pop"]
    assert sock.got[2][1]["state"] == "connected", "the pop carries the call's current state"
    assert sock.got[2][1]["customer"]["name"] == "王伟"
    task.cancel()


async def test_given_two_agents_when_delivering_then_each_socket_gets_only_its_agent() -> None:
    hub = PopHub()
    s1, s2 = FakeSocket(), FakeSocket()
    tasks = [run(hub, "a1", s1), run(hub, "a2", s2)]
    hub.deliver("a1", pop("call-1", "王伟"))
    hub.deliver("a2", pop("call-2", "李娜"))

    m1 = await s1.wait_for(lambda m: m["type"] == "pop")
    m2 = await s2.wait_for(lambda m: m["type"] == "pop")

    assert (m1["call_id"], m2["call_id"]) == ("call-1", "call-2")
    assert s1.types().count("pop") == 1 and s2.types().count("pop") == 1
    for t in tasks:
        t.cancel()


async def test_given_slow_socket_when_pop_delivered_then_fast_socket_is_not_delayed() -> None:
    hub = PopHub(queue_size=8)
    slow, fast = FakeSocket(delay=0.5), FakeSocket()
    tasks = [run(hub, "a1", slow), run(hub, "a1", fast)]
    t0 = time.perf_counter()
    offered = hub.deliver("a1", pop("call-1"))
    deliver_s = time.perf_counter() - t0

    await fast.wait_for(lambda m: m["type"] == "pop")
    fast_at = next(at for at, m in fast.got if m["type"] == "pop")
    await slow.wait_for(lambda m: m["type"] == "pop", timeout=5)
    slow_at = next(at for at, m in slow.got if m["type"] == "pop")

    assert offered == 2 and deliver_s < 0.01, "deliver never waits for a socket"
    assert fast_at - t0 < 0.1, f"fast socket took {fast_at - t0:.3f} s"
    assert slow_at - fast_at > 0.5, "the slow socket really was slow in this run"
    for t in tasks:
        t.cancel()


async def test_given_full_queue_when_more_pops_then_queue_resyncs_to_current_state() -> None:
    hub = PopHub(queue_size=4)
    sock = FakeSocket()
    conn = hub.connect("a1", sock.send, sock.close)  # no writer yet: nothing drains
    hub.deliver("a1", {"type": "agent_state", "state": "on_call", "since": 1.0})
    for i in range(10):
        hub.deliver("a1", pop(f"call-{i}"))
    task = asyncio.create_task(conn.run())

    await sock.wait_for(lambda m: m["type"] == "pop")
    await asyncio.sleep(0)  # let the writer drain what is queued

    assert conn.resyncs >= 1
    pops = [m for _, m in sock.got if m["type"] == "pop"]
    assert pops[-1]["call_id"] == "call-9", "the newest pop survives an overflow"
    assert "agent_state" in sock.types()
    assert len(sock.got) <= 4
    task.cancel()


async def test_given_stuck_socket_when_send_times_out_then_it_is_closed_and_dropped() -> None:
    hub = PopHub(send_timeout_s=0.05)
    stuck = FakeSocket(delay=60)
    conn = hub.connect("a1", stuck.send, stuck.close)

    await asyncio.wait_for(conn.run(), timeout=2)

    assert stuck.closed and conn.closed
    assert hub.connections("a1") == []
    assert hub.deliver("a1", pop("call-2")) == 0


async def test_given_heartbeat_interval_when_idle_then_sockets_get_heartbeats() -> None:
    hub = PopHub(heartbeat_s=0.02)
    sock = FakeSocket()
    tasks = [run(hub, "a1", sock), asyncio.create_task(hub.heartbeat())]

    await sock.wait_for(lambda m: m["type"] == "heartbeat")

    for t in tasks:
        t.cancel()


def test_given_tiny_queue_when_building_hub_then_refused() -> None:
    with pytest.raises(ValueError):
        PopHub(queue_size=2)
