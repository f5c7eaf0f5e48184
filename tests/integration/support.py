"""Test helpers for the real Asterisk: an awaitable event log and SIPp agent phones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ari_app.ari import AriEvent, AriEventStream, Reconnected

Predicate = Callable[[AriEvent], bool]


class EventLog:
    """Every event our app received, with waiting on a condition (never sleeping)."""

    def __init__(self) -> None:
        self.events: list[AriEvent] = []
        self.connections: list[int] = []
        self.stream: AriEventStream | None = None
        self._changed = asyncio.Condition()

    async def add(self, event: AriEvent) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def connected(self, marker: Reconnected) -> None:
        self.connections.append(marker.count)

    def matching(self, predicate: Predicate) -> list[AriEvent]:
        return [e for e in self.events if predicate(e)]

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> AriEvent:
        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        for event in self.events:
                            if predicate(event):
                                return event
                        await self._changed.wait()
            except TimeoutError:
                seen = [(e.type, e.channel_id, e.args, e.dial_status) for e in self.events][-30:]
                raise AssertionError(f"no event matched within {timeout} s; last: {seen}") from None

    def of_channel(self, channel_id: str, event_type: str | None = None) -> list[AriEvent]:
        return [
            e for e in self.events
            if e.channel_id == channel_id and (event_type is None or e.type == event_type)
        ]
