"""The bridge from the dialer's event bus to the CRM's screen-pop hub.

``ScreenPop`` (the dialer decided to call for an agent, offered a preview lead, bridged a
customer, or the call ended) becomes a ``pop`` message with the customer essentials from
``CrmService.customer_summary`` (one query set per call, reused for its later states), or a
``call_state`` message for a call the agent already has on screen. ``AgentStateChanged``
becomes an ``agent_state`` message. Events of one agent are handled in order; agents never
wait for each other (each agent has its own chain of tasks).

Summaries are prefetched when the dialer claims leads (``LeadsClaimed``), so the pop at dial
time costs no database round trip: a cached summary is pushed at once and re-read right after;
if the customer changed meanwhile (a note, a task, a call), a ``pop_refresh`` follows.

Every read goes through one batching loader: the summaries asked for in the same turn of the
event loop (a burst of 101 cold pops, a claim of 200 leads, the re-reads behind a burst) are
read together, one query set for all of them, every language and campaign wanted
(``customer_summaries``), never one read per pop; a pop whose summary is already being read
waits for that read instead of starting another.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from ari_app.dialer.bus import EventBus, Subscription
from ari_app.dialer.events import AgentStateChanged, LeadsClaimed, ScreenPop
from ari_app.dialer.model import AgentState
from ari_app.tasks import TaskSet
from crm.app import crm_service_of
from crm.domain.enums import Language
from crm.domain.script_fields import with_script_rendered
from crm.errors import CrmError, NotFoundError
from crm.pops import PopHub
from web.metrics.prometheus import POP_METRICS, PopMetrics

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
    "conversion",
)


# a cached summary: (customer id, language, campaign id): the campaign picks the script
SummaryKey = tuple[str, Language, str | None]


class SummarySource(Protocol):
    """``CrmService.customer_summaries``: the script is chosen among every campaign's
    scripts and the key's campaign's only."""

    async def customer_summaries(
        self, keys: Sequence[SummaryKey]
    ) -> dict[SummaryKey, dict[str, Any]]:
        """Many summaries at once, keyed as asked; unknown customers left out."""
        ...


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
        "until": event.until,  # the wrap-up's deadline (the page counts down to it)
    }


def pop_message(event: ScreenPop, customer: dict[str, Any], summary_ms: float) -> dict[str, Any]:
    return {
        "type": "pop",
        "call_id": event.call_id,
        "state": event.state,
        "customer": with_script_rendered(customer, event.number),  # its fields filled in
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
        cache_size: int = 20_000,
        cache_max_age_s: float = 600.0,
        prefetchers: int = 2,
        max_batch: int = 500,
        refresh_after_s: float = 1.0,
        refresh_delay_s: float = 0.25,
        metrics: PopMetrics | None = None,
        clock: Callable[[], float] = time.time,
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
        # (customer id, language, campaign) → (monotonic time read, essentials): prefetched
        self._cache: OrderedDict[SummaryKey, tuple[float, dict[str, Any]]] = OrderedDict()
        self.cache_size = cache_size
        self.cache_max_age_s = cache_max_age_s
        self._prefetch: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=cache_size)
        self.prefetcher_count = prefetchers
        self.max_batch = max_batch  # keys read in one query set
        self._collecting: dict[SummaryKey, asyncio.Future[dict[str, Any]]] = {}  # next batch
        self._inflight: dict[SummaryKey, asyncio.Future[dict[str, Any]]] = {}  # being read
        self.refresh_after_s = refresh_after_s  # a summary read this recently is not re-read
        self.refresh_delay_s = refresh_delay_s
        self._tasks = TaskSet(log, "pops task")  # reader, prefetchers, agents' chains, refreshes
        self.stats = {"cache_hits": 0, "cache_misses": 0, "refreshed": 0, "prefetched": 0}
        self.metrics = metrics if metrics is not None else PopMetrics()  # /metrics
        self.metrics.stats = self.stats
        self.clock = clock  # the dialer's clock (ScreenPop.at): wall time

    # ------------------------------------------------------------ lifecycle --
    def start(self) -> None:
        self._sub = self.bus.subscribe(
            lambda e: isinstance(e, ScreenPop | AgentStateChanged | LeadsClaimed), self.queue_size
        )
        self._tasks.spawn(self._read(self._sub), "pops-bridge")
        for i in range(self.prefetcher_count):
            self._tasks.spawn(self._prefetch_loop(), f"pops-prefetch-{i}")

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
        await self._tasks.close()

    async def _read(self, sub: Subscription) -> None:
        while True:
            event = await sub.get()
            if sub.dropped:
                log.warning("pops: the bridge fell behind; %d events dropped", sub.dropped)
                sub.dropped = 0
            if isinstance(event, LeadsClaimed):
                self.prefetch(event.customer_ids, event.campaign_id)
            else:
                self.schedule(event)

    # ------------------------------------------------------------- prefetch --
    def prefetch(self, customer_ids: Iterable[str], campaign_id: str) -> None:
        """Read these customers' summaries (for their pops in ``campaign_id``) ahead of their
        pops (never blocks; a full queue drops the surplus: those pops read the database as
        before)."""
        for customer_id in customer_ids:
            if customer_id and not self._prefetch.full():
                self._prefetch.put_nowait((customer_id, campaign_id))

    def _languages(self) -> set[Language]:
        langs = {self.default_language}
        for conn in self.hub.connections():
            if conn.language in ("zh", "en"):
                langs.add(Language(conn.language))
        return langs

    async def _prefetch_loop(self) -> None:
        while True:
            claimed = [await self._prefetch.get()]
            while not self._prefetch.empty() and len(claimed) < self.max_batch:
                claimed.append(self._prefetch.get_nowait())
            keys = [(cid, language, campaign) for cid, campaign in dict.fromkeys(claimed)
                    for language in self._languages()
                    if self._cached((cid, language, campaign)) is None]
            results = await asyncio.gather(*(self._load(k) for k in keys),
                                           return_exceptions=True)
            for key, result in zip(keys, results, strict=True):
                if not isinstance(result, BaseException):
                    self.stats["prefetched"] += 1
                elif isinstance(result, CrmError):
                    log.debug("pops: prefetch of %s failed: %s", key[0], result)
                elif isinstance(result, Exception):  # best effort: the pop reads anyway
                    log.error("pops: prefetch of %s failed: %r", key[0], result)

    # --------------------------------------------------------------- loader --
    def _load(self, key: SummaryKey, *, fresh: bool = False) -> asyncio.Future[dict[str, Any]]:
        """The essentials of ``key``, read in the next batch (or, unless ``fresh``: the read
        already under way). The result is cached when read."""
        if not fresh and key in self._inflight:
            return self._inflight[key]
        future = self._collecting.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            if not self._collecting:  # the first of a batch: read them all after this turn
                loop.call_soon(self._flush)
            future = self._collecting[key] = loop.create_future()
        return future

    def _flush(self) -> None:
        while self._collecting:
            keys = list(itertools.islice(self._collecting, self.max_batch))
            batch = {k: self._collecting.pop(k) for k in keys}
            for key, future in batch.items():
                self._inflight.setdefault(key, future)
            self._tasks.spawn(self._read_batch(batch), "pops-summaries")

    async def _read_batch(self, batch: dict[SummaryKey, asyncio.Future[dict[str, Any]]]) -> None:
        try:
            found = await self.summaries.customer_summaries(list(batch))
        except BaseException as exc:  # every waiter gets the failure (CrmError: said per pop)
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else
                                         CrmError("summary read cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            for key, future in batch.items():
                if self._inflight.get(key) is future:
                    del self._inflight[key]
        for key, future in batch.items():
            summary = found.get(key)
            if summary is None:
                future.set_exception(NotFoundError("customer", key[0]))
                continue
            essentials = {k: summary.get(k) for k in CUSTOMER_FIELDS}
            self._remember(key, essentials)
            future.set_result(essentials)

    def _cached(self, key: SummaryKey) -> tuple[dict[str, Any], float] | None:
        """The cached essentials and their age, unless missing or too old."""
        entry = self._cache.get(key)
        if entry is None:
            return None
        age = time.monotonic() - entry[0]
        return (entry[1], age) if age < self.cache_max_age_s else None

    def _remember(self, key: SummaryKey, customer: dict[str, Any]) -> None:
        self._cache[key] = (time.monotonic(), customer)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------- ordering --
    def schedule(self, event: object) -> None:
        """Handle ``event`` after the same agent's earlier events, without waiting for others."""
        agent_id = getattr(event, "agent_id", "")
        previous = self._tails.get(agent_id)
        task = self._tasks.spawn(self._after(previous, event), f"pops-{agent_id}")  # logs
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
            cache = "reused"
        else:
            customer, age = await self._customer(event)
            cache = "miss" if age is None else "hit"  # an age: it came from the cache
            if age is not None and age > self.refresh_after_s:  # re-read behind the pop
                self._refresh_soon(event, customer)
        summary_s = time.perf_counter() - started
        summary_ms = summary_s * 1000
        self._screens[event.agent_id] = _OnScreen(
            event.call_id, event.lead_id, event.customer_id, customer, event.state
        )
        self.hub.deliver(event.agent_id, pop_message(event, customer, summary_ms))
        self.metrics.observe(cache, self.clock() - event.at, summary_s)
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

    def _language_of(self, agent_id: str) -> Language:
        lang = self.hub.language_of(agent_id)
        return Language(lang) if lang in ("zh", "en") else self.default_language

    def _refresh_soon(self, event: ScreenPop, shown: dict[str, Any]) -> None:
        self._tasks.spawn(self._refresh(event, shown), f"pops-refresh-{event.call_id}")

    async def _refresh(self, event: ScreenPop, shown: dict[str, Any]) -> None:
        # After a short pause: in a burst, every pop is delivered before the re-reads start.
        await asyncio.sleep(self.refresh_delay_s)
        key = (event.customer_id, self._language_of(event.agent_id), event.campaign_id)
        try:  # read after the pop (not a read already under way): one batch for a burst
            fresh = await self._load(key, fresh=True)
        except CrmError as exc:
            log.warning("pops: call %s: refresh of %s failed: %s", event.call_id,
                        event.customer_id, exc)
            return
        screen = self._screens.get(event.agent_id)
        if fresh == shown or screen is None or screen.call_id != event.call_id:
            return
        screen.customer = fresh
        self.stats["refreshed"] += 1
        self.hub.deliver(event.agent_id, {"type": "pop_refresh", "call_id": event.call_id,
                                          "lead_id": event.lead_id,
                                          "customer": with_script_rendered(fresh, event.number)})

    async def _customer(self, event: ScreenPop) -> tuple[dict[str, Any], float | None]:
        """The essentials to pop, and their age in seconds if they came from the cache."""
        key = (event.customer_id, self._language_of(event.agent_id), event.campaign_id)
        cached = self._cached(key)
        if cached is not None:
            self.stats["cache_hits"] += 1
            return cached
        self.stats["cache_misses"] += 1
        try:
            customer = await self._load(key)
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
            }, None
        return customer, None


def pop_bridge_ctx(bus: EventBus, hub: PopHub) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running the bridge for the app's CRM service (after the CRM's ctx)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        service = crm_service_of(app)
        bridge = PopBridge(bus, hub, service, gate=service.experiments,
                           metrics=app.get(POP_METRICS))
        bridge.start()
        yield
        await bridge.stop()

    return ctx
