"""In-process fan-out of dialer events to live views (screen pops, wallboard).

Each subscriber has its own bounded queue: a slow consumer loses its oldest
items (and counts them), never delays the dialer or another consumer. Durable
delivery to the CRM is the outbox's job, not this bus's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, bus: EventBus, accept: Callable[[object], bool], size: int) -> None:
        self._bus = bus
        self.accept = accept
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, event: object) -> None:
        if not self.accept(event):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> object:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, accept: Callable[[object], bool] = lambda e: True,
                  size: int = 256) -> Subscription:
        sub = Subscription(self, accept, size)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: object) -> None:
        for sub in tuple(self._subs):
            try:
                sub.offer(event)
            except Exception:
                log.exception("subscriber failed on %r", event)
