"""The bridge from the dialer's event bus to the CRM's screen-pop hub.

``ScreenPop`` (the dialer decided to call for an agent, offered a preview lead, bridged a
customer, or the call ended) becomes a ``pop`` message with the customer essentials from
``CrmService.customer_summary`` (one query set per call, reused for its later states), or a
``call_state`` message for a call the agent already has on screen. ``AgentStateChanged``
becomes an ``agent_state`` message. Events of one agent are handled in order; agents never
wait for each other (each agent has its own chain of tasks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from ari_app.dialer.bus import EventBus, Subscription
from ari_app.dialer.events import AgentStateChanged, ScreenPop
from ari_app.dialer.model import AgentState
from crm.app import crm_service_of
from crm.domain.enums import Language
from crm.errors import CrmError
from crm.pops import PopHub

log = logging.getLogger(__name__)

CUSTOMER_FIELDS = (
    "customer_id",
    "name",
    "last_call_time",
    "numbers",
    "tags",
    "recent_contacts",
    "open_tasks",
    "recommended_script",
)


class SummarySource(Protocol):
    async def customer_summary(self, customer_id: str, *, language: Language) -> dict[str, Any]: ...


class PopGate(Protocol):
    """The A/B hook (``crm.experiments.ExperimentService``): the variant of the running
    ``pop`` experiment for an agent or a lead; variant ``off`` means no pop is pushed."""

    async def feature_variant(self, feature: str, unit: str, unit_id: str
                              ) -> tuple[str, str] | None: ...


@dataclass
class _OnScreen:
    """The call (or preview offer) an agent currently has on screen."""

    call_id: str
    lead_id: str
    customer_id: str
    customer: dict[str, Any]
    state: str


def agent_state_message(event: AgentStateChanged) -> dict[str, Any]:
    return {
        "type": "agent_state",
        "state": event.state.value,
        "previous": event.previous.value,
        "pause_code": event.pause_code,
        "since": event.at,
        "call_id": event.call_id,
        "campaign_id": event.campaign_id,
    }


def pop_message(event: ScreenPop, customer: dict[str, Any], summary_ms: float) -> dict[str, Any]:
    return {
        "type": "pop",
        "call_id": event.call_id,
        "state": event.state,
        "customer": customer,
        "number": event.number,
        "campaign_id": event.campaign_id,
        "lead_id": event.lead_id,
        "ts": event.at,
        "summary_ms": round(summary_ms, 2),
    }


def call_state_message(event: ScreenPop) -> dict[str, Any]:
    return {
        "type": "call_state",
        "call_id": event.call_id,
        "state": event.state,
        "lead_id": event.lead_id,
        "ts": event.at,
    }


class PopBridge:
    def __init__(
        self,
        bus: EventBus,
        hub: PopHub,
        summaries: SummarySource,
        *,
        default_language: Language = Language.ZH,
        queue_size: int = 4096,
        gate: PopGate | None = None,
    ) -> None:
        self.bus = bus
        self.hub = hub
        self.summaries = summaries
        self.gate = gate
        self.default_language = default_language
        self.queue_size = queue_size
        self._screens: dict[str, _OnScreen] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._sub: Subscription | None = None
        self._reader: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle --
    def start(self) -> None:
        self._sub = self.bus.subscribe(
            lambda e: isinstance(e, ScreenPop | AgentStateChanged), self.queue_size
        )
        self._reader = asyncio.create_task(self._read(self._sub), name="pops-bridge")

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
        tasks = [t for t in (self._reader, *self._tails.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, sub: Subscription) -> None:
        while True:
            event = await sub.get()
            if sub.dropped:
                log.warning("pops: the bridge fell behind; %d events dropped", sub.dropped)
                sub.dropped = 0
            self.schedule(event)

    # ------------------------------------------------------------- ordering --
    def schedule(self, event: object) -> None:
        """Handle ``event`` after the same agent's earlier events, without waiting for others."""
        agent_id = getattr(event, "agent_id", "")
        previous = self._tails.get(agent_id)
        task = asyncio.create_task(self._after(previous, event), name=f"pops-{agent_id}")
        self._tails[agent_id] = task
        task.add_done_callback(lambda t: self._done(agent_id, t))

    async def _after(self, previous: asyncio.Task[None] | None, event: object) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        await self.handle(event)

    def _done(self, agent_id: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(agent_id) is task:
            del self._tails[agent_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("pops: agent %s: event failed", agent_id, exc_info=task.exception())

    # ------------------------------------------------------------- handlers --
    async def handle(self, event: object) -> None:
        if isinstance(event, AgentStateChanged):
            self.hub.deliver(event.agent_id, agent_state_message(event))
            self._close_stale_screen(event)
        elif isinstance(event, ScreenPop):
            await self._on_pop(event)

    async def _on_pop(self, event: ScreenPop) -> None:
        shown = self._screens.get(event.agent_id)
        if shown is not None and event.call_id and shown.call_id == event.call_id:
            shown.state = event.state
            self.hub.deliver(event.agent_id, call_state_message(event))
            return
        if event.state == "ended":  # a call the agent never saw popped: state only
            self.hub.deliver(event.agent_id, call_state_message(event))
            return
        experiment = await self._pop_off(event)
        if experiment is not None:  # A/B: this agent (or lead) gets no pop, the state only
            self._screens[event.agent_id] = _OnScreen(
                event.call_id, event.lead_id, event.customer_id, {}, event.state)
            self.hub.deliver(event.agent_id, {**call_state_message(event), "pop": "off",
                                              "experiment": experiment})
            return
        started = time.perf_counter()
        if shown is not None and (shown.lead_id, shown.customer_id) == (
            event.lead_id,
            event.customer_id,
        ):
            customer = shown.customer  # preview offer accepted: same lead, now dialing
        else:
            customer = await self._customer(event)
        summary_ms = (time.perf_counter() - started) * 1000
        self._screens[event.agent_id] = _OnScreen(
            event.call_id, event.lead_id, event.customer_id, customer, event.state
        )
        self.hub.deliver(event.agent_id, pop_message(event, customer, summary_ms))
        log.debug(
            "pops: call %s (campaign %s) popped for %s in %.1f ms",
            event.call_id,
            event.campaign_id,
            event.agent_id,
            summary_ms,
        )

    async def _pop_off(self, event: ScreenPop) -> str | None:
        """The key of the pop experiment that switches this pop off, if any."""
        if self.gate is None:
            return None
        for unit, unit_id in (("agent", event.agent_id), ("lead", event.lead_id)):
            if not unit_id:
                continue
            try:
                found = await self.gate.feature_variant("pop", unit, unit_id)
            except CrmError as exc:
                log.warning("pops: call %s: experiment lookup failed: %s", event.call_id, exc)
                return None
            if found is not None and found[1] == "off":
                return found[0]
        return None

    def _close_stale_screen(self, event: AgentStateChanged) -> None:
        """The dialer publishes no ``ended`` pop when the agent logs out mid-call or a preview
        offer is skipped or withdrawn; end what the agent still has on screen."""
        shown = self._screens.get(event.agent_id)
        if shown is None or shown.state == "ended":
            return
        offer_gone = shown.state == "offered" and event.state is not AgentState.RESERVED
        if event.state is AgentState.LOGGED_OUT or offer_gone:
            shown.state = "ended"
            self.hub.deliver(
                event.agent_id,
                {
                    "type": "call_state",
                    "call_id": shown.call_id,
                    "state": "ended",
                    "lead_id": shown.lead_id,
                    "ts": event.at,
                    "reason": "agent_logged_out" if not offer_gone else "offer_withdrawn",
                },
            )

    async def _customer(self, event: ScreenPop) -> dict[str, Any]:
        lang = self.hub.language_of(event.agent_id)
        language = Language(lang) if lang in ("zh", "en") else self.default_language
        try:
            summary = await self.summaries.customer_summary(event.customer_id, language=language)
        except CrmError as exc:
            log.warning(
                "pops: call %s: no customer summary for %s: %s",
                event.call_id,
                event.customer_id,
                exc,
            )
            return {
                "customer_id": event.customer_id,
                "name": None,
                "numbers": [],
                "tags": [],
                "recent_contacts": [],
                "open_tasks": [],
                "recommended_script": None,
                "error": exc.message,
            }
        return {k: summary.get(k) for k in CUSTOMER_FIELDS}


def pop_bridge_ctx(bus: EventBus, hub: PopHub) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running the bridge for the app's CRM service (after the CRM's ctx)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        service = crm_service_of(app)
        bridge = PopBridge(bus, hub, service, gate=service.experiments)
        bridge.start()
        yield
        await bridge.stop()

    return ctx
