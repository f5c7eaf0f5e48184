"""``GET /metrics``: Prometheus text exposition (format 0.0.4), written here (no dependency).

Access: an **admin** only (bearer token, or an admin's session cookie); anyone else gets the
usual ``{"error", "message", "details"}`` 401/403. Give the scraper an admin API token.

What it exposes (all names prefixed ``dialcrm_``):

- ``http_request_duration_seconds`` histogram {method, route} and ``http_requests_total``
  {method, route, status}, from a middleware; ``route`` is the matched route's canonical path
  (``/api/customers/{customer_id}``), ``unmatched`` for 404s. WebSocket requests are counted
  but not timed (their "latency" is the socket's lifetime).
- the outbox (the event-to-CRM sync): ``outbox_pending``, ``outbox_oldest_pending_seconds``,
  ``outbox_delivered_total``, ``outbox_failures_total``, ``outbox_last_lag_seconds`` {lane};
- telephony: ``ari_up``, ``ami_up``, ``ari_reconnects_total``;
- the dialer: ``campaign_dials_total`` {campaign}, ``campaign_calls_total`` {campaign,
  outcome = live_answer | abandon | machine | connect} (a connect is a live answer bridged to an
  agent), ``campaign_abandon_rate``, ``campaign_hopper_leads``, ``campaign_alarm``,
  ``campaign_alarm_raised`` (by kind: ``hopper_empty``, ``abandon_rate``);
  ``agents`` {state}; ``calls_in_flight`` {phase};
- screen pops (:class:`PopMetrics`, fed by the pop bridge): ``pop_latency_seconds`` histogram
  {cache} from the dialer's ScreenPop event time to the pop's delivery to the agent's hub,
  ``pop_summary_seconds`` histogram {cache} (getting the customer's essentials), ``cache`` =
  ``hit`` (prefetched), ``miss`` (read from the CRM at pop time) or ``reused`` (the preview
  offer's card, already on screen); ``pop_prefetch_hit_ratio`` (hits / (hits + misses), absent
  before the first pop), ``pop_prefetched_total``, ``pop_cache_lookups_total`` {result};
- ``event_loop_lag_seconds`` histogram: how late the event loop ran a timer callback (sampled
  every 20 ms by :class:`web.metrics.loop_lag.LoopLag`): every hot path's queueing in one number.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import AgentState, CallPhase
from ari_app.dialer.snapshot import CampaignSnapshot, DialerSnapshot
from crm.domain.access import require_role
from crm.errors import AuthenticationError
from crm.http.routing import SERVICE_KEY, authenticate
from web.appkeys import DIALER_KEY, TELEPHONY
from web.metrics.loop_lag import LAG_BUCKETS, LoopLag, loop_lag_ctx

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "dialcrm_"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, float]  # (name suffix, labels, value)


# ------------------------------------------------------------------ exposition --
def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class Family:
    """One metric family: ``# HELP``, ``# TYPE`` and its samples."""

    name: str
    kind: str  # counter, gauge, histogram
    help: str
    samples: list[Sample] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append((suffix, tuple(labels.items()), value))

    def lines(self) -> Iterable[str]:
        full = PREFIX + self.name
        yield f"# HELP {full} {self.help}"
        yield f"# TYPE {full} {self.kind}"
        for suffix, labels, value in self.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            yield f"{full}{suffix}{{{text}}} {_number(value)}" if text else \
                f"{full}{suffix} {_number(value)}"


def render(families: Iterable[Family]) -> str:
    return "".join(line + "\n" for family in families for line in family.lines())


# ------------------------------------------------------------------ histograms --
@dataclass
class HistogramSeries:
    """One label set's latencies: a count per bound (``BUCKETS`` unless given; not cumulative;
    past the last bound only in ``count``), the count and the sum."""

    bounds: tuple[float, ...] = BUCKETS
    buckets: list[int] = field(default_factory=list)
    count: int = 0
    total: float = 0.0

    def __post_init__(self) -> None:
        self.buckets = self.buckets or [0] * len(self.bounds)

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(self.bounds):
            if seconds <= bound:
                self.buckets[i] += 1
                break

    def quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding the q-quantile (None: no observation, or past
        the last bucket)."""
        if not self.count:
            return None
        rank, running = q * self.count, 0
        for bound, n in zip(self.bounds, self.buckets, strict=True):
            running += n
            if running >= rank:
                return bound
        return None


class Histogram:
    """A latency histogram (``BUCKETS``) per label set: the one used by every histogram here
    (HTTP requests, screen pops) and read by the status dashboard's percentiles."""

    def __init__(self, name: str, help: str, label_names: tuple[str, ...],
                 bounds: tuple[float, ...] = BUCKETS) -> None:
        self.name, self.help, self.label_names = name, help, label_names
        self.bounds = bounds
        self.series: dict[tuple[str, ...], HistogramSeries] = {}

    def observe(self, seconds: float, *labels: str) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = HistogramSeries(self.bounds)
        series.observe(seconds)

    def family(self) -> Family:
        hist = Family(self.name, "histogram", self.help)
        for labels, s in sorted(self.series.items()):
            named = dict(zip(self.label_names, labels, strict=True))
            running = 0
            for bound, n in zip(self.bounds, s.buckets, strict=True):
                running += n
                hist.add(running, "_bucket", **named, le=_number(bound))
            hist.add(s.count, "_bucket", **named, le="+Inf")
            hist.add(s.total, "_sum", **named)
            hist.add(s.count, "_count", **named)
        return hist


class PopMetrics:
    """Screen-pop latency (event → hub delivery, and the summary's share), by cache result, and
    the prefetch cache's hit ratio (from the bridge's ``stats`` counters)."""

    CACHE = ("hit", "miss", "reused")

    def __init__(self) -> None:
        self.latency = Histogram("pop_latency_seconds",
                                 "Screen pop: dialer event time to delivery to the agent's hub",
                                 ("cache",))
        self.summary = Histogram("pop_summary_seconds",
                                 "Screen pop: time to get the customer's essentials", ("cache",))
        self.stats: dict[str, int] = {}  # the bridge's counters (set by the bridge)
        self.skewed = 0  # deliveries "before" the event (clock skew): not observed

    def observe(self, cache: str, event_to_delivery_s: float, summary_s: float) -> None:
        self.summary.observe(max(0.0, summary_s), cache)
        if event_to_delivery_s < 0:
            self.skewed += 1
            return
        self.latency.observe(event_to_delivery_s, cache)

    def families(self) -> list[Family]:
        hits, misses = self.stats.get("cache_hits", 0), self.stats.get("cache_misses", 0)
        ratio = Family("pop_prefetch_hit_ratio", "gauge",
                       "Screen pops served from the prefetch cache / pops that looked it up")
        if hits + misses:
            ratio.add(hits / (hits + misses))
        lookups = Family("pop_cache_lookups_total", "counter",
                         "Prefetch cache lookups at pop time, by result")
        lookups.add(hits, result="hit")
        lookups.add(misses, result="miss")
        prefetched = Family("pop_prefetched_total", "counter",
                            "Customer summaries prefetched when leads were claimed")
        prefetched.add(self.stats.get("prefetched", 0))
        return [self.latency.family(), self.summary.family(), ratio, lookups, prefetched]


class HttpMetrics:
    """Request latency per (method, route) and request counts per (method, route, status)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.latency = Histogram("http_request_duration_seconds",
                                 "HTTP request latency by route (canonical path)",
                                 ("method", "route"))
        self.requests: dict[tuple[str, str, str], int] = {}

    def observe(self, method: str, route: str, status: int, seconds: float | None) -> None:
        key = (method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        if seconds is None:
            return
        self.latency.observe(seconds, method, route)

    def families(self) -> list[Family]:
        counts = Family("http_requests_total", "counter", "HTTP requests by route and status")
        for (method, route, status), n in sorted(self.requests.items()):
            counts.add(n, method=method, route=route, status=status)
        return [self.latency.family(), counts]

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        started = self.clock()
        status = 500
        timed = True
        try:
            response = await handler(request)
            status = response.status
            timed = not isinstance(response, web.WebSocketResponse)
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.observe(request.method, route_label(request), status,
                         self.clock() - started if timed else None)


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


# ------------------------------------------------------------------- app state --
async def outbox_families(dialer: Dialer) -> list[Family]:
    pending = Family("outbox_pending", "gauge", "Events waiting to reach the CRM, per lane")
    oldest = Family("outbox_oldest_pending_seconds", "gauge", "Age of the oldest pending event")
    delivered = Family("outbox_delivered_total", "counter", "Events delivered to the CRM")
    failures = Family("outbox_failures_total", "counter", "Failed delivery attempts to the CRM")
    lag = Family("outbox_last_lag_seconds", "gauge", "Event-to-CRM lag of the last delivery")
    stats = await dialer.store.outbox_stats()
    for lane, row in sorted(stats.items()):
        pending.add(row["pending"], lane=lane)
        oldest.add(row["oldest_pending_s"], lane=lane)
    for forwarder in dialer.snapshot().forwarders:
        delivered.add(forwarder.delivered, lane=forwarder.lane)
        failures.add(forwarder.failures, lane=forwarder.lane)
        if forwarder.last_lag_s is not None:
            lag.add(forwarder.last_lag_s, lane=forwarder.lane)
    return [pending, oldest, delivered, failures, lag]


def _call_outcomes(c: CampaignSnapshot) -> tuple[tuple[int, str], ...]:
    return ((c.live_answers, "live_answer"), (c.abandons, "abandon"),
            (c.machines, "machine"), (c.connects, "connect"))


def dialer_families(snapshot: DialerSnapshot) -> list[Family]:
    dials = Family("campaign_dials_total", "counter", "Calls placed, per campaign")
    calls = Family("campaign_calls_total", "counter", "Calls by outcome, per campaign")
    rate = Family("campaign_abandon_rate", "gauge", "Abandons / live answers, per campaign")
    hopper = Family("campaign_hopper_leads", "gauge", "Leads in the campaign's hopper")
    alarm = Family("campaign_alarm", "gauge", "1 while the campaign has an alarm raised")
    kinds = Family("campaign_alarm_raised", "gauge",
                   "1 per campaign and kind of the alarm raised (hopper_empty, abandon_rate)")
    for c in snapshot.campaigns:
        cid = c.campaign_id
        dials.add(c.dials, campaign=cid)
        for count, outcome in _call_outcomes(c):
            calls.add(count, campaign=cid, outcome=outcome)
        rate.add(c.abandon_rate, campaign=cid)
        hopper.add(c.hopper, campaign=cid)
        alarm.add(1 if c.alarm else 0, campaign=cid)
        if c.alarm:
            kinds.add(1, campaign=cid, kind=c.alarm)
    agents = Family("agents", "gauge", "Logged-in agents by state")
    by_state = {s.value: 0 for s in AgentState if s is not AgentState.LOGGED_OUT}
    for a in snapshot.agents:
        by_state[a.state.value] = by_state.get(a.state.value, 0) + 1
    for state, n in by_state.items():
        agents.add(n, state=state)
    flight = Family("calls_in_flight", "gauge", "Calls in flight by phase")
    by_phase = {p.value: 0 for p in CallPhase if p is not CallPhase.ENDED}
    for call in snapshot.calls:
        by_phase[call.phase.value] = by_phase.get(call.phase.value, 0) + 1
    for phase, n in by_phase.items():
        flight.add(n, phase=phase)
    return [dials, calls, rate, hopper, alarm, kinds, agents, flight]


def telephony_families(telephony: Any) -> list[Family]:
    """From the telephony object's own state (no request to Asterisk on a scrape)."""
    events = telephony.events
    ari = Family("ari_up", "gauge", "1 while the ARI event stream is connected")
    ari.add(1 if events is not None and events.connected.is_set() else 0)
    ami = Family("ami_up", "gauge", "1 while the AMI connection is up")
    ami.add(1 if telephony.ami.connected else 0)
    reconnects = Family("ari_reconnects_total", "counter", "ARI event stream reconnections")
    reconnects.add(events.reconnects if events is not None else 0)
    return [ari, ami, reconnects]


HTTP_METRICS = web.AppKey("http_metrics", HttpMetrics)
POP_METRICS = web.AppKey("pop_metrics", PopMetrics)  # the pop bridge's ctx feeds it
LOOP_LAG = web.AppKey("loop_lag", LoopLag)


def install_metrics(app: web.Application) -> HttpMetrics:
    """Time every request (outermost middleware: it sees the mapped error status) and mount
    ``/metrics``. Dialer and telephony figures appear once the composition root has put them
    on the app."""
    http = HttpMetrics()
    app[HTTP_METRICS] = http
    app[POP_METRICS] = pops = PopMetrics()
    app.middlewares.insert(0, http.middleware)
    lag_histogram = Histogram("event_loop_lag_seconds",
                              "Event-loop scheduling delay: how late a timer callback ran", (),
                              LAG_BUCKETS)
    app[LOOP_LAG] = lag = LoopLag(on_sample=lag_histogram.observe)
    app.cleanup_ctx.append(loop_lag_ctx(lag))

    async def metrics(request: web.Request) -> web.Response:
        principal = await authenticate(request, request.app[SERVICE_KEY])
        if principal is None:
            raise AuthenticationError("authentication required (an admin's bearer token)")
        require_role(principal)  # admin only
        families = http.families()
        dialer = request.app.get(DIALER_KEY)
        if dialer is not None:
            families += await outbox_families(dialer)
            families += dialer_families(dialer.snapshot())
        telephony = request.app.get(TELEPHONY)
        if telephony is not None:
            families += telephony_families(telephony)
        families += pops.families()
        families.append(lag_histogram.family())
        return web.Response(body=render(families).encode(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/metrics", metrics)
    return http
