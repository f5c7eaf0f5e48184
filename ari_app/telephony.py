"""The controller's connections to Asterisk: ARI (REST + events) and AMI, supervised.

Owns the long-lived tasks (ARI event stream) and keeps their references; reports
health for ``/status``. The dialer (campaigns, agents, calls) registers its
handlers on :attr:`Telephony.router`.
"""

from __future__ import annotations

import logging
from typing import Any

from ari_app.ami import AmiClient
from ari_app.ari import AriClient, AriEventStream, EventRouter, Reconnected
from ari_app.errors import TelephonyError
from ari_app.settings import DialerSettings
from ari_app.tasks import TaskSet

log = logging.getLogger(__name__)


class Telephony:
    def __init__(self, settings: DialerSettings) -> None:
        self.settings = settings
        self.ari = AriClient(settings.ari)
        self.router = EventRouter()
        self.ami = AmiClient(settings.ami)
        self.events: AriEventStream | None = None
        self._tasks = TaskSet(log, "ARI event stream")  # its failure is logged
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
        self._tasks.spawn(self.events.run(), "ari-events")
        try:
            await self.ami.connect(timeout=self.settings.ami_timeout)
        except TelephonyError as exc:
            self.ami_error = str(exc)
            log.error("AMI unavailable: %s (registration state and reloads disabled)", exc)

    async def stop(self) -> None:
        await self._tasks.close()
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


