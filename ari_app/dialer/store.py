"""The dialer's durable store (SQLite): the event outbox and the state it must not forget.

- ``outbox``: every call event and recording job, written (committed) before the
  dialer moves on, delivered to the CRM by :class:`Forwarder` in order, per lane,
  retried until the CRM has it. Event ids make delivery idempotent at the CRM.
- ``state``: calls in flight and agent sessions, as JSON, so a restarted
  controller can reconcile them with ARI's channels and bridges.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from predictive.private_files import private_sqlite

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    lane TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_pending ON outbox (lane, delivered_at, seq);
CREATE TABLE IF NOT EXISTS state (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, id)
);
"""


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    event_id: str
    lane: str
    payload: dict[str, Any]
    attempts: int
    created_at: float


class DialerStore:
    """One SQLite file; every write is committed before the call returns."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._appended: dict[str, asyncio.Event] = {}

    def appended(self, lane: str) -> asyncio.Event:
        """Set whenever something is appended to ``lane``."""
        return self._appended.setdefault(lane, asyncio.Event())

    async def open(self) -> None:
        if self.path != ":memory:":
            private_sqlite(Path(self.path))
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.executescript(SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("DialerStore is not open")
        return self._db

    # ------------------------------------------------------------- outbox --
    async def append(self, event_id: str, lane: str, payload: dict[str, Any]) -> None:
        async with self._lock:
            await self.db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, lane, payload, created_at) "
                "VALUES (?, ?, ?, ?)",
                (event_id, lane, json.dumps(payload, ensure_ascii=False), time.time()),
            )
            await self.db.commit()
        self.appended(lane).set()

    async def pending(self, lane: str, limit: int = 100) -> list[OutboxItem]:
        async with self.db.execute(
            "SELECT seq, event_id, lane, payload, attempts, created_at FROM outbox "
            "WHERE lane = ? AND delivered_at IS NULL ORDER BY seq LIMIT ?",
            (lane, limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [OutboxItem(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    async def mark_delivered(self, seq: int) -> None:
        async with self._lock:
            await self.db.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE seq = ?",
                (time.time(), seq),
            )
            await self.db.commit()

    async def mark_failed(self, seq: int, error: str) -> None:
        async with self._lock:
            await self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                (error[:500], seq),
            )
            await self.db.commit()

    async def outbox_stats(self) -> dict[str, Any]:
        async with self.db.execute(
            "SELECT lane, COUNT(*) FILTER (WHERE delivered_at IS NULL), COUNT(*), "
            "MIN(created_at) FILTER (WHERE delivered_at IS NULL) FROM outbox GROUP BY lane"
        ) as cursor:
            rows = await cursor.fetchall()
        now = time.time()
        return {
            lane: {"pending": pending, "total": total,
                   "oldest_pending_s": round(now - oldest, 3) if oldest else 0.0}
            for lane, pending, total, oldest in rows
        }

    async def all_payloads(self, lane: str) -> list[dict[str, Any]]:
        async with self.db.execute(
            "SELECT payload FROM outbox WHERE lane = ? ORDER BY seq", (lane,)
        ) as cursor:
            return [json.loads(r[0]) for r in await cursor.fetchall()]

    # -------------------------------------------------------------- state --
    async def save_state(self, kind: str, key: str, body: dict[str, Any]) -> None:
        async with self._lock:
            await self.db.execute(
                "INSERT INTO state (kind, id, body, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, "
                "updated_at = excluded.updated_at",
                (kind, key, json.dumps(body, ensure_ascii=False), time.time()),
            )
            await self.db.commit()

    async def drop_state(self, kind: str, key: str) -> None:
        async with self._lock:
            await self.db.execute("DELETE FROM state WHERE kind = ? AND id = ?", (kind, key))
            await self.db.commit()

    async def load_state(self, kind: str) -> dict[str, dict[str, Any]]:
        async with self.db.execute("SELECT id, body FROM state WHERE kind = ?", (kind,)) as cur:
            return {r[0]: json.loads(r[1]) for r in await cur.fetchall()}


Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class Forwarder:
    """Delivers one outbox lane in order; on failure waits (backing off) and retries."""

    def __init__(self, store: DialerStore, lane: str, deliver: Deliver,
                 backoff: tuple[float, float] = (0.2, 5.0)) -> None:
        self.store = store
        self.lane = lane
        self.deliver = deliver
        self.backoff = backoff
        self.delivered = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_lag_s = 0.0  # created → delivered, of the last delivery (for /metrics)

    async def run(self) -> None:
        delay = self.backoff[0]
        while True:
            wake = self.store.appended(self.lane)
            wake.clear()
            ok = await self._drain()
            if ok:
                delay = self.backoff[0]
                await wake.wait()  # woken by the next append
            else:
                await asyncio.sleep(delay)  # the CRM is down: back off, then retry
                delay = min(delay * 2, self.backoff[1])

    async def _drain(self) -> bool:
        while True:
            items = await self.store.pending(self.lane)
            if not items:
                return True
            for item in items:
                try:
                    await self.deliver(item.payload)
                except Exception as exc:  # any failure: keep it, retry later
                    self.failures += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("outbox %s: delivering %s failed: %s",
                                self.lane, item.event_id, self.last_error)
                    await self.store.mark_failed(item.seq, self.last_error)
                    return False
                await self.store.mark_delivered(item.seq)
                self.delivered += 1
                self.last_lag_s = time.time() - item.created_at
