"""Testing support for the dialer on a real Asterisk (the sandbox): the whole controller
in-process with its CRM on SQLite (``DialerRig``), an awaitable log of ARI events
(``EventLog``) and polling a status (``wait_until``). Used by the integration tests and by
``bench/``; plain code, no pytest (this module ships).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ari_app.adapters.crm_local import LocalCrm
from ari_app.ari import AriClient, AriConfig, AriEvent, AriEventStream, EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.events import AgentStateChanged, ScreenPop
from ari_app.dialer.model import AgentState
from ari_app.dialer.store import DialerStore
from crm.ports import FixedClock
from crm.service import CrmService
from crm.testing import CRM_T0, call_event_rows, campaign_leads, open_sqlite_crm

# 11:00 in Asia/Shanghai: inside the campaigns' default 09:00-21:00 calling window.
CRM_NOW = CRM_T0
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


class GatedCrm:
    """The CRM port with a switch: while ``down``, every call fails like an unreachable CRM."""

    def __init__(self, inner: LocalCrm) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        async def gated(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                self.refused += 1
                raise ConnectionError("CRM unavailable (test)")
            return await target(*args, **kwargs)

        return gated


class WallClock:
    def now(self) -> float:
        return time.time()


@dataclass
class DialerRig:
    """The whole controller in-process on a real Asterisk (ARI events, dialer, outbox), its CRM
    on SQLite in ``work``, the CRM port behind a switch (``gate``)."""

    ari_config: AriConfig
    work: Path
    crm: CrmService = field(init=False)
    gate: GatedCrm = field(init=False)
    dialer: Dialer = field(init=False)
    bus: EventBus = field(init=False)
    store: DialerStore = field(init=False)
    stream: AriEventStream = field(init=False)
    # Every ARI event the rig's stream received (across restarts), for tests to wait on.
    events: EventLog = field(default_factory=EventLog)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _ari: AriClient | None = None

    async def start(self, worker: str = "dialer-test") -> None:
        self.crm = await open_sqlite_crm(self.work, FixedClock(CRM_NOW))
        await self.start_dialer(worker)

    async def start_dialer(self, worker: str = "dialer-test") -> None:
        """(Re)start the controller half: a new process would do exactly this."""
        self._ari = AriClient(self.ari_config)
        self.store = DialerStore(self.work / "dialer.sqlite3")
        await self.store.open()
        self.bus = EventBus()
        self.gate = GatedCrm(LocalCrm(self.crm))
        gate: Any = self.gate
        self.dialer = Dialer(self._ari, self.store, gate, gate, self.bus, WallClock(),
                             worker=worker)
        router = EventRouter()
        router.on_any(self.events.add)
        self.dialer.register(router)
        self.stream = AriEventStream(self.ari_config, self._ari.session, on_event=router,
                                     on_connected=self.dialer.on_connected)
        await self.dialer.start()
        self._tasks.append(asyncio.create_task(self.stream.run()))
        await self.stream.wait_connected()
        await wait_until(self._reconciled, timeout=10, what="the first reconciliation")

    async def _reconciled(self) -> bool:
        return self.dialer.reconciler.runs >= 1

    async def stop_dialer(self) -> None:
        """Stop the controller abruptly (no campaign stop, no logout), like a killed process."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for task in list(self.dialer._tasks):
            task.cancel()
        await asyncio.gather(*self.dialer._tasks, return_exceptions=True)
        await self.store.close()
        if self._ari is not None:
            await self._ari.close()

    async def close(self) -> None:
        await self.dialer.stop()
        await self.stop_dialer()
        await self.crm.close()

    # ----------------------------------------------------------------- CRM --
    async def campaign_with_leads(self, name: str, numbers: list[str]) -> str:
        campaign = await self.crm.campaigns.create({"name": name, "max_attempts": 3})
        await self.add_leads(str(campaign.id), numbers)
        return str(campaign.id)

    async def add_leads(self, campaign_id: str, numbers: list[str]) -> None:
        """Import a list of numbers into a campaign (a new list, e.g. while it dials)."""
        rows = [{"phone": n, "name": f"客户 {n[-4:]}"} for n in numbers]
        async for _ in self.crm.import_leads(uuid.UUID(campaign_id), rows):
            pass

    async def leads(self, campaign_id: str) -> dict[str, Any]:
        """The campaign's leads (the CRM's rows) by phone number."""
        return await campaign_leads(self.crm, campaign_id)

    async def call_events(self) -> list[Any]:
        return await call_event_rows(self.crm)

    # -------------------------------------------------------------- agents --
    def auto_dispose(self, disposition: str = "not_interested") -> None:
        """Agents set a disposition as soon as they enter wrap-up (through the use case)."""
        sub = self.bus.subscribe(
            lambda e: isinstance(e, AgentStateChanged) and e.state is AgentState.WRAP_UP
        )

        async def run() -> None:
            while True:
                event = await sub.get()
                assert isinstance(event, AgentStateChanged)
                try:
                    await self.dialer.dispose(event.agent_id, disposition)
                except Exception as exc:  # noqa: BLE001 - a test helper reports and goes on
                    print(f"auto-dispose {event.agent_id}: {exc}")

        self._tasks.append(asyncio.create_task(run()))


    def scripted_agents(self, wrap_s: Callable[[str], float | None],
                        talk_s: Callable[[str], float | None] | None = None,
                        disposition: str = "not_interested") -> None:
        """Agents as a simulation plays them (through the use cases): each call's talk ends
        ``talk_s(agent)`` seconds after it was bridged (the agent hangs up; ``None``: when the
        customer does), and its wrap-up ``wrap_s(agent)`` seconds after it began (a
        disposition; ``None``: the agent does not dispose, the campaign's wrap-up limit ends
        it). These delays are the agents' behaviour, not a test waiting for something."""
        sub = self.bus.subscribe(
            lambda e: isinstance(e, AgentStateChanged)
            and e.state in (AgentState.ON_CALL, AgentState.WRAP_UP))
        loop = asyncio.get_running_loop()

        async def act(agent_id: str, call_id: str | None, on_call: bool) -> None:
            session = self.dialer.agents.sessions.get(agent_id)
            wanted = AgentState.ON_CALL if on_call else AgentState.WRAP_UP
            if session is None or session.state is not wanted or session.call_id != call_id:
                return  # the customer hung up first, or the wrap-up limit came first
            try:
                if on_call:
                    await self.dialer.hangup_customer(agent_id)
                else:
                    await self.dialer.dispose(agent_id, disposition)
            except Exception as exc:  # noqa: BLE001 - a simulated agent reports and goes on
                print(f"scripted agent {agent_id}: {exc}")

        def later(delay: float, agent_id: str, call_id: str | None, on_call: bool) -> None:
            def fire() -> None:
                self._tasks.append(asyncio.create_task(act(agent_id, call_id, on_call)))
            loop.call_later(max(0.0, delay), fire)

        async def run() -> None:
            while True:
                event = await sub.get()
                assert isinstance(event, AgentStateChanged)
                on_call = event.state is AgentState.ON_CALL
                delay = (talk_s(event.agent_id) if talk_s else None) if on_call \
                    else wrap_s(event.agent_id)
                if delay is not None:
                    later(delay, event.agent_id, event.call_id, on_call)

        self._tasks.append(asyncio.create_task(run()))

    def auto_accept(self) -> None:
        """Preview mode: agents accept every offered lead (through the use case)."""
        sub = self.bus.subscribe(lambda e: isinstance(e, ScreenPop) and e.state == "offered")

        async def run() -> None:
            while True:
                event = await sub.get()
                assert isinstance(event, ScreenPop)
                try:
                    await self.dialer.accept_preview(event.agent_id)
                except Exception as exc:  # noqa: BLE001 - a test helper reports and goes on
                    print(f"auto-accept {event.agent_id}: {exc}")

        self._tasks.append(asyncio.create_task(run()))


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float,
                     what: str, interval: float = 0.25) -> None:
    """Poll a status until it holds (tests wait by polling, never by fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
