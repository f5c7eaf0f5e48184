"""``GET /metrics``: Prometheus text exposition, the latency middleware, admin-only access."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ari_app.dialer.bus import EventBus
from ari_app.dialer.events import LeadsClaimed, ScreenPop
from ari_app.dialer.model import CampaignConfig
from crm.pops import PopHub
from crm.services.customers import CustomerInput
from tests.helpers.waiting import eventually
from tests.helpers.web_apps import Rig, bearer, fake_app
from web.agent.pops import PopBridge
from web.metrics.loop_lag import LoopLag
from web.metrics.prometheus import (
    LOOP_LAG,
    POP_METRICS,
    Family,
    HttpMetrics,
    PopMetrics,
    render,
    telephony_families,
)

LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
    r"(-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$"
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, TestClient]]:
    async with fake_app(tmp_path) as rig, TestClient(TestServer(rig.app)) as client:
        yield rig, client


async def scrape(rig: tuple[Rig, TestClient]) -> str:
    board, client = rig
    resp = await client.get("/metrics", headers=bearer(board, "root"))
    assert resp.status == 200 and resp.content_type == "text/plain"
    return await resp.text()


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not exposed")


async def test_given_admin_when_scraped_then_every_line_is_a_comment_or_a_sample(
    rig: tuple[Rig, TestClient],
) -> None:
    board, _ = rig
    board.dialer.run_campaign(CampaignConfig(board.campaign_id, name="m"))
    await board.dialer.login("agent1", "1001", board.campaign_id)
    text = await scrape(rig)
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or LINE.match(line), line
    assert sample(text, "dialcrm_agents", state="ready") == 1
    assert sample(text, "dialcrm_campaign_calls_total", campaign=board.campaign_id,
                  outcome="abandon") == 0
    assert sample(text, "dialcrm_campaign_abandon_rate", campaign=board.campaign_id) == 0
    assert sample(text, "dialcrm_outbox_delivered_total", lane="call_events") >= 0
    assert "# TYPE dialcrm_http_request_duration_seconds histogram" in text


async def test_given_a_request_when_scraped_then_it_is_in_the_histogram_by_route(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    await client.get("/api/customers/3f1d7c1e-0000-4000-8000-000000000000",
                     headers=bearer(board, "boss"))
    text = await scrape(rig)
    route = "/api/customers/{customer_id}"
    assert sample(text, "dialcrm_http_request_duration_seconds_count", method="GET",
                  route=route) == 1
    assert sample(text, "dialcrm_http_request_duration_seconds_bucket", route=route,
                  le="+Inf") == 1
    assert sample(text, "dialcrm_http_requests_total", route=route, status="404") == 1


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("agent1", 403), ("boss", 403)])
async def test_given_not_an_admin_when_scraping_then_refused_with_the_error_shape(
    rig: tuple[Rig, TestClient], who: str | None, status: int,
) -> None:
    board, client = rig
    resp = await client.get("/metrics", headers=bearer(board, who) if who else {})
    assert resp.status == status
    assert set(await resp.json()) == {"error", "message", "details"}


def test_given_label_with_quotes_when_rendered_then_escaped_and_buckets_cumulative() -> None:
    http = HttpMetrics()
    for seconds in (0.001, 0.2, 30.0):
        http.observe("GET", '/a"b\\', 200, seconds)
    family = Family("x", "gauge", "help")
    family.add(1.5, lane='q"\n')
    text = render([*http.families(), family])
    assert 'lane="q\\"\\n"' in text and 'route="/a\\"b\\\\"' in text
    buckets = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if "_bucket{" in line]
    assert buckets == sorted(buckets) and buckets[0] == 1 and buckets[-1] == 3


def test_given_ari_connected_and_ami_down_when_rendered_then_up_gauges_and_reconnects() -> None:
    connected = asyncio.Event()
    connected.set()
    telephony = SimpleNamespace(events=SimpleNamespace(connected=connected, reconnects=2),
                                ami=SimpleNamespace(connected=False))
    text = render(telephony_families(telephony))
    assert "dialcrm_ari_up 1\n" in text and "dialcrm_ami_up 0\n" in text
    assert "dialcrm_ari_reconnects_total 2\n" in text


async def test_given_prefetched_and_cold_pops_when_scraped_then_latency_by_cache_and_hit_ratio(
    rig: tuple[Rig, TestClient],
) -> None:
    """A real bridge on the real CRM service, its PopMetrics the app's: one customer prefetched
    (LeadsClaimed) and popped (hit), one popped cold (miss), then ``/metrics``."""
    board, _ = rig
    warm, _ = await board.crm.customers.create(CustomerInput("王伟", phones=["13800138091"]))
    cold, _ = await board.crm.customers.create(CustomerInput("李娜", phones=["13800138092"]))
    bus, hub = EventBus(), PopHub()
    at = 1_000.0
    bridge = PopBridge(bus, hub, board.crm, metrics=board.app[POP_METRICS],
                       clock=lambda: at + 0.3)  # every pop delivered 0.3 s after its event
    bridge.start()
    try:
        bus.publish(LeadsClaimed("camp-1", (str(warm.id),), at))
        await eventually(lambda: bridge.stats["prefetched"] == 1)
        for n, (agent, customer) in enumerate((("a1", warm), ("a2", cold))):
            bus.publish(ScreenPop(agent, f"call-{n}", str(customer.id), f"lead-{n}", "camp-1",
                                  "+8613800138091", "ringing", at))
        await eventually(lambda: len(hub.current("a1")) == 1 and len(hub.current("a2")) == 1)
    finally:
        await bridge.stop()
    assert hub.current("a1")[0]["customer"]["name"] == "王伟"

    text = await scrape(rig)
    for line in text.splitlines():
        assert line.startswith("# ") or LINE.match(line), line
    assert "# TYPE dialcrm_pop_latency_seconds histogram" in text
    for cache in ("hit", "miss"):
        assert sample(text, "dialcrm_pop_latency_seconds_count", cache=cache) == 1
        assert sample(text, "dialcrm_pop_latency_seconds_sum", cache=cache) == pytest.approx(0.3)
        assert sample(text, "dialcrm_pop_latency_seconds_bucket", cache=cache, le="0.25") == 0
        assert sample(text, "dialcrm_pop_latency_seconds_bucket", cache=cache, le="0.5") == 1
        assert sample(text, "dialcrm_pop_summary_seconds_count", cache=cache) == 1
    assert sample(text, "dialcrm_pop_summary_seconds_sum", cache="miss") > sample(
        text, "dialcrm_pop_summary_seconds_sum", cache="hit")  # the miss read the database
    assert "dialcrm_pop_prefetch_hit_ratio 0.5\n" in text
    assert sample(text, "dialcrm_pop_cache_lookups_total", result="miss") == 1
    assert "dialcrm_pop_prefetched_total 1\n" in text


def test_given_no_pop_yet_when_rendered_then_no_ratio_and_skewed_clock_not_observed() -> None:
    pops = PopMetrics()
    pops.stats = {"cache_hits": 0, "cache_misses": 0, "prefetched": 0}
    text = render(pops.families())
    assert "# TYPE dialcrm_pop_prefetch_hit_ratio gauge" in text
    assert not [line for line in text.splitlines()
                if line.startswith("dialcrm_pop_prefetch_hit_ratio")]
    pops.observe("hit", -0.5, 0.001)  # delivered "before" its event: another host's clock
    assert pops.skewed == 1 and pops.latency.series == {}
    assert pops.summary.series[("hit",)].count == 1


async def test_given_the_loop_blocked_when_the_lag_timer_runs_then_the_lag_is_observed() -> None:
    seen: list[float] = []
    lag = LoopLag(0.01, on_sample=seen.append)
    lag.start()
    time.sleep(0.06)  # noqa: ASYNC251 - the point: a synchronous stretch that blocks the loop
    await eventually(lambda: len(seen) >= 2)
    lag.stop()
    assert max(seen) >= 0.05 - 0.01  # due 10 ms in, run after the 60 ms block at the earliest
    window = lag.window()
    assert window["n"] == len(seen) and window["max"] >= 40
    assert lag.window()["n"] == 0  # the window was reset


async def test_given_the_app_running_when_scraped_then_the_event_loop_lag_histogram_is_exposed(
    rig: tuple[Rig, TestClient],
) -> None:
    board, _ = rig
    await eventually(lambda: board.app[LOOP_LAG].window(reset=False)["n"] > 0)
    text = await scrape(rig)
    assert "# TYPE dialcrm_event_loop_lag_seconds histogram" in text
    assert sample(text, "dialcrm_event_loop_lag_seconds_bucket", le="+Inf") >= 1
