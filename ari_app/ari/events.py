"""ARI events: the ``/ari/events`` WebSocket, read with reconnect, dispatched in order.

The reader never runs handlers itself: it only decodes frames into
:class:`AriEvent` and queues them, so a slow handler can never stall the socket
(and Asterisk never drops us for not reading). One dispatcher task hands the
queued events to the handler in arrival order; each handler call is guarded, so
one failure is logged and the next event still flows. A reconnect is queued as a
:class:`Reconnected` marker in the same order, so the controller can reconcile
its state with ARI before it sees events from the new connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from ari_app.ari.config import AriConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AriEvent:
    """One ARI event, with the fields the controller uses lifted out of the JSON."""

    type: str
    channel_id: str | None = None
    channel_name: str | None = None
    channel_state: str | None = None
    args: tuple[str, ...] = ()
    cause: int | None = None
    cause_txt: str | None = None
    dial_status: str | None = None
    peer_id: str | None = None
    bridge_id: str | None = None
    playback_id: str | None = None
    recording_name: str | None = None
    timestamp: float | None = None  # when Asterisk says it happened (epoch seconds), if it did
    received_at: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], received_at: float | None = None) -> AriEvent:
        channel = data.get("channel") or {}
        peer = data.get("peer") or {}
        bridge = data.get("bridge") or {}
        playback = data.get("playback") or {}
        recording = data.get("recording") or {}
        cause = data.get("cause")
        is_dial = data.get("type") == "Dial"
        return cls(
            type=str(data.get("type", "")),
            channel_id=channel.get("id") or (peer.get("id") if is_dial else None),
            channel_name=channel.get("name") or peer.get("name"),
            channel_state=channel.get("state") or peer.get("state"),
            args=tuple(str(a) for a in data.get("args", ()) or ()),
            cause=int(cause) if isinstance(cause, int | str) and str(cause).isdigit() else None,
            cause_txt=data.get("cause_txt"),
            dial_status=data.get("dialstatus") if is_dial else None,
            peer_id=peer.get("id"),
            bridge_id=bridge.get("id"),
            playback_id=playback.get("id"),
            recording_name=recording.get("name"),
            timestamp=_epoch(data.get("timestamp")),
            received_at=time.monotonic() if received_at is None else received_at,
            raw=data,
        )


def _epoch(stamp: object) -> float | None:
    """Asterisk's event ``timestamp`` (``2026-11-26T15:03:43.685+0000``) in epoch seconds."""
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class Reconnected:
    """The events socket (re)connected; ``count`` is 0 for the first connection."""

    count: int


Handler = Callable[[AriEvent], Awaitable[None]]
ConnectHandler = Callable[[Reconnected], Awaitable[None]]


class EventRouter:
    """Handlers registered by event type; every call guarded."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._any: list[Handler] = []
        self.failures = 0

    def on(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def on_any(self, handler: Handler) -> None:
        self._any.append(handler)

    async def __call__(self, event: AriEvent) -> None:
        for handler in (*self._any, *self._handlers.get(event.type, ())):
            try:
                await handler(event)
            except Exception:
                self.failures += 1
                log.exception(
                    "handler %s failed on %s (channel %s)",
                    getattr(handler, "__qualname__", handler), event.type, event.channel_id,
                )


class AriEventStream:
    """Reads the events WebSocket for ``config.app`` until cancelled, reconnecting."""

    def __init__(
        self,
        config: AriConfig,
        session: aiohttp.ClientSession,
        on_event: Handler,
        on_connected: ConnectHandler | None = None,
        backoff: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.config = config
        self.session = session
        self.on_event = on_event
        self.on_connected = on_connected
        self.backoff = backoff
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.replaced = False
        self.reader_stopped = asyncio.Event()
        self._queue: asyncio.Queue[AriEvent | Reconnected] = asyncio.Queue()
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read_forever(), name="ari-events-reader")
            group.create_task(self._dispatch_forever(), name="ari-events-dispatcher")

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self.connected.wait()

    async def drop_connection(self) -> None:
        """Close the socket as if the network dropped it (fault tests, admin)."""
        if self._ws is not None:
            await self._ws.close()

    async def _read_forever(self) -> None:
        try:
            await self._reconnect_loop()
        finally:
            self.reader_stopped.set()

    async def _reconnect_loop(self) -> None:
        delay = self.backoff[0]
        connections = 0
        while not self.replaced:
            try:
                await self._read_once(connections)
                delay = self.backoff[0]
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("ARI events socket failed: %s; retrying in %.1f s", exc, delay)
            finally:
                self.connected.clear()
            connections += 1 if self._ws is not None else 0
            self._ws = None
            if self.replaced:
                log.error("another controller took over ARI app %s; stopping", self.config.app)
                return
            await asyncio.sleep(delay)  # back-off before reconnecting, not a poll
            delay = min(delay * 2, self.backoff[1])

    async def _read_once(self, connections: int) -> None:
        params = {"app": self.config.app, "subscribeAll": "false"}
        async with self.session.ws_connect(
            self.config.events_url,
            params=params,
            headers=self.config.auth_header,
            heartbeat=10.0,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
        ) as ws:
            self._ws = ws
            if connections:
                self.reconnects += 1
            log.info("ARI events connected (app %s, connection %d)", self.config.app, connections)
            self._queue.put_nowait(Reconnected(connections))
            self.connected.set()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = AriEvent.from_json(json.loads(msg.data))
                if event.type == "ApplicationReplaced":
                    self.replaced = True
                self._queue.put_nowait(event)
        log.warning("ARI events socket closed (app %s)", self.config.app)

    async def _dispatch_forever(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, Reconnected):
                    if self.on_connected is not None:
                        await self.on_connected(item)
                else:
                    await self.on_event(item)
            except Exception:
                log.exception("ARI event handler failed on %r", item)
