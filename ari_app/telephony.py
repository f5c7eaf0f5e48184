"""The controller's connections to Asterisk: ARI (REST + events) and AMI, supervised.

Owns the long-lived tasks (ARI event stream) and keeps their references; reports
health for ``/status``. The dialer (campaigns, agents, calls) registers its
handlers on :attr:`Telephony.router`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ari_app.ami import AmiClient
from ari_app.ari import AriClient, AriEventStream, EventRouter, Reconnected
from ari_app.errors import TelephonyError
from ari_app.settings import DialerSettings

log = logging.getLogger(__name__)


class Telephony:
    def __init__(self, settings: DialerSettings) -> None:
        self.settings = settings
        self.ari = AriClient(settings.ari)
        self.router = EventRouter()
        self.ami = AmiClient(settings.ami)
        self.events: AriEventStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._connect_hooks: list[Any] = []
        self.ami_error: str | None = None

    def on_connected(self, hook: Any) -> None:
        """``hook(Reconnected)`` runs, in event order, after every (re)connection."""
        self._connect_hooks.append(hook)

    async def _connected(self, marker: Reconnected) -> None:
        for hook in self._connect_hooks:
            await hook(marker)

    async def start(self) -> None:
        self.events = AriEventStream(
            self.settings.ari, self.ari.session, on_event=self.router, on_connected=self._connected
        )
        self._task = asyncio.create_task(self.events.run(), name="ari-events")
        self._task.add_done_callback(_log_task_end)
        try:
            await self.ami.connect(timeout=self.settings.ami_timeout)
        except TelephonyError as exc:
            self.ami_error = str(exc)
            log.error("AMI unavailable: %s (registration state and reloads disabled)", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.ami.close()
        await self.ari.close()

    async def status(self) -> dict[str, Any]:
        ari: dict[str, Any] = {
            "connected": bool(self.events and self.events.connected.is_set()),
            "reconnects": self.events.reconnects if self.events else 0,
            "url": self.settings.ari_url,
        }
        try:
            info = await self.ari.asterisk_info()
            ari["asterisk_version"] = info.version
        except TelephonyError as exc:
            ari["error"] = str(exc)
        ami = {"connected": self.ami.connected, "error": self.ami_error}
        return {"ari": ari, "ami": ami}


def _log_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ARI event stream stopped", exc_info=task.exception())
