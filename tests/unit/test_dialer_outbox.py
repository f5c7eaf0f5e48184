"""The durable outbox: written before moving on, delivered in order, retried, never twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ari_app.dialer.store import DialerStore, Forwarder


class FlakySink:
    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.got: list[str] = []
        self.calls = 0
        self.done = asyncio.Event()

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise ConnectionError("CRM down")
        self.got.append(payload["event_id"])
        if len(self.got) == 3:
            self.done.set()


async def test_given_crm_down_when_events_appended_then_delivered_in_order_after_recovery(
    tmp_path: Path,
) -> None:
    store = DialerStore(tmp_path / "d.sqlite3")
    await store.open()
    sink = FlakySink(fail_first=3)
    forwarder = Forwarder(store, "call_events", sink, backoff=(0.01, 0.02))
    task = asyncio.create_task(forwarder.run())
    for i in range(3):
        await store.append(f"e{i}", "call_events", {"event_id": f"e{i}"})
    await store.append("e0", "call_events", {"event_id": "e0"})  # a duplicate id: ignored
    async with asyncio.timeout(5):
        await sink.done.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert sink.got == ["e0", "e1", "e2"]
    assert forwarder.failures == 3
    stats = await store.outbox_stats()
    assert stats["call_events"]["pending"] == 0 and stats["call_events"]["total"] == 3
    await store.close()


async def test_given_undelivered_events_when_process_restarts_then_new_forwarder_delivers(
    tmp_path: Path,
) -> None:
    store = DialerStore(tmp_path / "d.sqlite3")
    await store.open()
    for i in range(3):
        await store.append(f"e{i}", "attempts", {"event_id": f"e{i}"})
    await store.close()  # the process dies before delivering anything

    reopened = DialerStore(tmp_path / "d.sqlite3")
    await reopened.open()
    sink = FlakySink(fail_first=0)
    task = asyncio.create_task(Forwarder(reopened, "attempts", sink).run())
    async with asyncio.timeout(5):
        await sink.done.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sink.got == ["e0", "e1", "e2"]
    await reopened.close()


async def test_given_state_saved_when_reloaded_then_same_and_dropped_on_request(
    tmp_path: Path,
) -> None:
    store = DialerStore(tmp_path / "d.sqlite3")
    await store.open()
    await store.save_state("call", "c1", {"phase": "dialing", "number": "+8613800138000"})
    await store.save_state("call", "c1", {"phase": "connected", "number": "+8613800138000"})
    assert await store.load_state("call") == {
        "c1": {"phase": "connected", "number": "+8613800138000"}}
    await store.drop_state("call", "c1")
    assert await store.load_state("call") == {}
    await store.close()
