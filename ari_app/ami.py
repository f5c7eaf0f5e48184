"""The one adapter around panoramisk (AMI). Never its FastAGI part.

Used for what ARI lacks: PJSIP contact/registration and device state of agent
phones and trunks, Asterisk's version and uptime, configuration reloads, and CDR
events to cross-check durations. Every action has a timeout; events reach the
registered handlers through one guarded dispatcher task, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from panoramisk import Manager

from ari_app.errors import AmiActionFailed, AmiUnavailable

log = logging.getLogger(__name__)


SANDBOX_AMI_PASSWORD = "dialcrm-sandbox-ami"  # asterisk-config/manager.conf: public, sandbox only


@dataclass(frozen=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    user: str = "dialcrm"
    password: str = SANDBOX_AMI_PASSWORD
    action_timeout: float = 5.0


@dataclass(frozen=True)
class AmiEvent:
    """An AMI event: its name and headers (strings; a missing header is absent, not '')."""

    name: str
    headers: Mapping[str, str]

    def get(self, key: str) -> str | None:
        return self.headers.get(key)


AmiHandler = Callable[[AmiEvent], Awaitable[None]]


class AmiClient:
    """Connect, log in, send actions with timeouts, receive events."""

    def __init__(self, config: AmiConfig) -> None:
        self.config = config
        self._manager: Manager | None = None
        self._logged_in = asyncio.Event()
        self._handlers: dict[str, list[AmiHandler]] = defaultdict(list)
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None

    def on(self, event_name: str, handler: AmiHandler) -> None:
        self._handlers[event_name].append(handler)

    async def connect(self, timeout: float = 10.0) -> None:
        manager = Manager(
            loop=asyncio.get_running_loop(),
            host=self.config.host,
            port=self.config.port,
            username=self.config.user,
            secret=self.config.password,
            ping_delay=10,
            reconnect_timeout=2,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        manager.register_event("*", self._on_raw_event)
        self._manager = manager
        self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="ami-dispatcher")
        manager.connect()
        try:
            async with asyncio.timeout(timeout):
                await self._logged_in.wait()
        except TimeoutError:
            await self.close()
            raise AmiUnavailable(
                f"AMI {self.config.host}:{self.config.port}: no login within {timeout:.0f} s"
            ) from None

    @property
    def connected(self) -> bool:
        return self._logged_in.is_set()

    async def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            self._dispatcher = None
        self._logged_in.clear()

    async def action(self, name: str, **fields: str) -> list[dict[str, str]]:
        """Send an action; return its response and, for list actions, the listed events."""
        if self._manager is None or not self.connected:
            raise AmiUnavailable(f"AMI not connected (action {name})")
        payload = {"Action": name, **fields}
        try:
            async with asyncio.timeout(self.config.action_timeout):
                reply = await self._manager.send_action(payload)
        except TimeoutError:
            raise AmiUnavailable(f"AMI {name}: no answer in time") from None
        messages = reply if isinstance(reply, list) else [reply]
        out = [{str(k): str(v) for k, v in dict(m).items()} for m in messages]
        if out and out[0].get("Response") == "Error":
            raise AmiActionFailed(name, out[0].get("Message", "error"))
        return out

    # -------------------------------------------------------------- intake --
    def _on_login(self, manager: Manager) -> None:
        log.info("AMI logged in to %s:%s", self.config.host, self.config.port)
        self._logged_in.set()

    def _on_disconnect(self, manager: Manager, exc: Exception | None) -> None:
        log.warning("AMI disconnected: %s", exc)
        self._logged_in.clear()

    def _on_raw_event(self, manager: Manager, message: Any) -> None:
        name = str(message.get("Event", ""))
        headers = {str(k): str(v) for k, v in dict(message).items()}
        self._queue.put_nowait(AmiEvent(name, headers))

    async def _dispatch_forever(self) -> None:
        while True:
            event = await self._queue.get()
            for handler in (*self._handlers.get(event.name, ()), *self._handlers.get("*", ())):
                try:
                    await handler(event)
                except Exception:
                    log.exception("AMI handler failed on %s", event.name)


@dataclass(frozen=True)
class CdrRecord:
    """One CDR as ``cdr_manager`` sends it (event ``Cdr``), in our own names.

    Times are Asterisk's local wall clock at one-second resolution; only their differences are
    used. ``answer`` is ``None`` for a leg that was never answered.
    """

    unique_id: str
    linked_id: str | None
    channel: str
    destination_channel: str | None
    start: datetime | None
    answer: datetime | None
    end: datetime | None
    duration_s: int
    billsec: int
    disposition: str


def _cdr_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _cdr_int(raw: str | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def cdr_record(event: AmiEvent) -> CdrRecord | None:
    """The CDR carried by an AMI ``Cdr`` event, or ``None`` for anything else."""
    if event.name != "Cdr" or not event.get("UniqueID"):
        return None
    return CdrRecord(
        unique_id=event.get("UniqueID") or "",
        linked_id=event.get("LinkedID") or None,
        channel=event.get("Channel") or "",
        destination_channel=event.get("DestinationChannel") or None,
        start=_cdr_time(event.get("StartTime")),
        answer=_cdr_time(event.get("AnswerTime")),
        end=_cdr_time(event.get("EndTime")),
        duration_s=_cdr_int(event.get("Duration")),
        billsec=_cdr_int(event.get("BillableSeconds")),
        disposition=(event.get("Disposition") or "").strip(),
    )
