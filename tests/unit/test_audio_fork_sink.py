"""Transcript segments from the fork to the CRM: the durable outbox lane, in-process and HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from ari_app.adapters.crm_http import HttpCrm
from ari_app.adapters.crm_local import LocalCrm
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.store import DialerStore
from ari_app.testing import CRM_NOW
from crm.app import create_crm_app
from crm.db.engine import create_all, make_engine
from crm.domain.enums import Role
from crm.ports import FixedClock
from crm.service import CrmService
from crm.settings import CrmSettings
from tests.helpers.dialer_fakes import Clock, FakeControl

SEGMENTS = [
    {"segment_id": "call-t:customer:1", "speaker": "customer", "start_s": 2.38, "end_s": 6.96,
     "text": "The price is too expensive for us.", "confidence": 0.66, "language": "en"},
    {"segment_id": "call-t:agent:2", "speaker": "agent", "start_s": 4.0, "end_s": 9.5,
     "gap": True, "reason": "worker_crashed"},
]


async def _crm(tmp_path: Path) -> tuple[CrmService, CrmSettings]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    return CrmService(settings, engine, clock=FixedClock(CRM_NOW)), settings


async def _delivered(crm: CrmService, n: int, timeout: float = 10.0) -> list[Any]:
    async with asyncio.timeout(timeout):
        while len(rows := await crm.transcripts.segments("call-t")) < n:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return rows


class Flaky:
    """The in-process CRM port, down for the first ``fails`` transcript deliveries."""

    def __init__(self, inner: LocalCrm, fails: int) -> None:
        self.inner, self.fails, self.tries = inner, fails, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def push_transcript(self, call_id: str, segment: Any) -> None:
        self.tries += 1
        if self.tries <= self.fails:
            raise ConnectionError("CRM unavailable (test)")
        await self.inner.push_transcript(call_id, segment)


async def test_given_crm_down_when_segments_recorded_then_kept_and_delivered_in_order_later(
        tmp_path: Path) -> None:
    crm, _ = await _crm(tmp_path)
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    sink = Flaky(LocalCrm(crm), fails=3)
    dialer = Dialer(FakeControl(), store, sink, sink, EventBus(), Clock(),  # type: ignore[arg-type]
                    worker="w1")
    lane = next(f for f in dialer.forwarders if f.lane == "transcripts")
    lane.backoff = (0.05, 0.1)
    await dialer.start()
    try:
        for segment in SEGMENTS:
            await dialer.record_transcript("call-t", segment)
        await dialer.record_transcript("call-t", SEGMENTS[0])  # recorded twice: kept once
        rows = await _delivered(crm, 2)
        payloads = await store.all_payloads("transcripts")
    finally:
        await dialer.stop()
        await store.close()
        await crm.close()
    assert len(payloads) == 2
    assert sink.tries >= 5 and lane.failures == 3
    assert [r.segment_id for r in sorted(rows, key=lambda r: r.id)] == \
        ["call-t:customer:1", "call-t:agent:2"]
    gap = next(r for r in rows if r.gap)
    assert gap.reason == "worker_crashed" and gap.speaker == "agent"


async def test_given_dialer_elsewhere_when_segments_recorded_then_posted_to_crm_api(
        tmp_path: Path) -> None:
    crm, settings = await _crm(tmp_path)
    user = await crm.auth.create_user("dialer", Role.DIALER)
    token = (await crm.auth.issue_token(user.id)).token
    server = TestServer(create_crm_app(settings, service=crm), host="127.0.0.1")
    await server.start_server()
    http = HttpCrm(str(server.make_url("")), token, timeout=2)
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    dialer = Dialer(FakeControl(), store, http, http, EventBus(), Clock(), worker="w2")
    await dialer.start()
    try:
        for segment in SEGMENTS:
            await dialer.record_transcript("call-t", segment)
        rows = await _delivered(crm, 2)
        await http.push_transcript("call-t", SEGMENTS[0])  # idempotent at the CRM
        assert len(await crm.transcripts.segments("call-t")) == 2
    finally:
        await dialer.stop()
        await store.close()
        await http.close()
        await server.close()
        await crm.close()
    texts = {r.segment_id: r.text for r in rows}
    assert texts["call-t:customer:1"] == "The price is too expensive for us."


class Hangs(Flaky):
    """The first delivery never returns (a CRM call stuck on a lock)."""

    async def push_transcript(self, call_id: str, segment: Any) -> None:
        self.tries += 1
        if self.tries == 1:
            await asyncio.Event().wait()
        await self.inner.push_transcript(call_id, segment)


async def test_given_crm_call_hangs_when_delivering_then_timed_out_and_retried(
        tmp_path: Path, monkeypatch: Any) -> None:
    import ari_app.dialer.engine as engine

    monkeypatch.setattr(engine, "TRANSCRIPT_DELIVERY_TIMEOUT_S", 0.2)
    crm, _ = await _crm(tmp_path)
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    sink = Hangs(LocalCrm(crm), fails=0)
    dialer = Dialer(FakeControl(), store, sink, sink, EventBus(), Clock(),  # type: ignore[arg-type]
                    worker="w3")
    lane = next(f for f in dialer.forwarders if f.lane == "transcripts")
    lane.backoff = (0.05, 0.1)
    await dialer.start()
    try:
        for segment in SEGMENTS:
            await dialer.record_transcript("call-t", segment)
        rows = await _delivered(crm, 2)
    finally:
        await dialer.stop()
        await store.close()
        await crm.close()
    assert len(rows) == 2 and lane.failures == 1 and "TimeoutError" in (lane.last_error or "")
