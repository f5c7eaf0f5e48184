"""The server side of ``bench/pops.py``, run in its own process (``bench/lib/`` holds no bench):
the CRM app with the pop hub, ``/ws/agent``, the agent page and the dialer-bus → hub bridge,
plus three bench-only routes:

- ``POST /bench/fire``: publish ``ScreenPop`` (and ``LeadsClaimed``) events on the bus;
- ``POST /bench/begin`` {name}: start a measurement window (event-loop lag reset; with
  ``--profile``, pyinstrument starts sampling the loop's thread);
- ``POST /bench/end`` {name}: end it: the loop's lag in the window, the bridge's cache
  counters, and (profiling) the top frames written to ``<profile dir>/<name>.txt``.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
import uuid
from pathlib import Path
from typing import Any

from crm.service import CrmService
from crm.settings import CrmSettings
from web.metrics.loop_lag import LoopLag, freeze_after_startup

TOP_FRAMES = 40  # lines of the flat (self-time) listing kept beside the JSON


def settings_for(work: Path, database_url: str) -> CrmSettings:
    return CrmSettings(
        database_url=database_url,
        recordings_dir=work / "recordings",
        password_scrypt_n=16,
    )


def serve(work: str, database_url: str, port: int, ready: Any, profile_dir: str | None) -> None:
    asyncio.run(_serve(Path(work), database_url, port, ready, profile_dir))


async def _serve(work: Path, database_url: str, port: int, ready: Any,
                 profile_dir: str | None) -> None:
    from aiohttp import web

    import web as pages
    from ari_app.dialer.bus import EventBus
    from crm.app import create_crm_app
    from crm.pops import install_pops
    from web.agent.pages import add_agent_pages
    from web.agent.pops import pop_bridge_ctx
    from web.metrics.prometheus import POP_METRICS, PopMetrics

    settings = settings_for(work, database_url)
    service = CrmService.open(settings)
    app = create_crm_app(settings, service=service)
    bus = EventBus()
    app[POP_METRICS] = pop_metrics = PopMetrics()
    app.cleanup_ctx.append(pop_bridge_ctx(bus, install_pops(app)))
    add_agent_pages(app)
    app.router.add_static("/static", pages.STATIC_DIR)
    app.router.add_post("/bench/fire", _fire_handler(bus))
    freeze_after_startup(app)  # as web.main.build_app does
    windows = _Windows(pop_metrics, Path(profile_dir) if profile_dir else None)
    app.router.add_post("/bench/begin", windows.begin)
    app.router.add_post("/bench/end", windows.end)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    windows.lag.start()
    ready.set()
    await asyncio.Event().wait()


class _GcPauses:
    """The garbage collector's pauses (a long one stalls the loop like any other work)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses_ms: list[tuple[int, float]] = []  # (generation, ms)
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses_ms.append((info["generation"], (time.perf_counter() - self.started) * 1e3))

    def window(self) -> dict[str, Any]:
        pauses, self.pauses_ms = self.pauses_ms, []
        worst = max((ms for _, ms in pauses), default=0.0)
        return {"collections": len(pauses), "gen2": sum(1 for g, _ in pauses if g == 2),
                "max_ms": round(worst, 1)}


class _Windows:
    def __init__(self, pop_metrics: Any, profile_dir: Path | None) -> None:
        self.lag = LoopLag(0.005)
        self.gc = _GcPauses()
        self.pop_metrics = pop_metrics
        self.profile_dir = profile_dir
        self.profiler: Any = None
        self.before: dict[str, int] = {}

    async def begin(self, request: Any) -> Any:
        from aiohttp import web

        self.lag.window()  # reset
        self.gc.window()
        self.before = dict(self.pop_metrics.stats)
        if self.profile_dir is not None:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.001, async_mode="disabled")
            self.profiler.start()
        return web.json_response({"ok": True})

    async def end(self, request: Any) -> Any:
        from aiohttp import web

        name = (await request.json())["name"]
        lag = self.lag.window()
        stats = {k: v - self.before.get(k, 0) for k, v in self.pop_metrics.stats.items()}
        if self.profiler is not None and self.profile_dir is not None:
            self.profiler.stop()
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            flat = self.profiler.output_text(flat=True, flat_time="self", show_all=True)
            tree = self.profiler.output_text(short_mode=False, show_all=False)
            (self.profile_dir / f"{name}.txt").write_text(
                "\n".join(flat.splitlines()[: TOP_FRAMES + 8]) + "\n\n" + tree, encoding="utf-8")
            self.profiler = None
        return web.json_response({"event_loop_lag": lag, "bridge": stats,
                                  "gc": self.gc.window()})


def _fire_handler(bus: Any) -> Any:
    from aiohttp import web

    async def fire(request: web.Request) -> web.Response:
        body = await request.json()
        asyncio.get_running_loop().create_task(_publish(bus, **body))
        return web.json_response({"expected": body["rounds"] * len(body["agents"])}, status=202)

    return fire


async def _publish(
    bus: Any, agents: list[str], customers: list[str], rounds: int, round_s: float, burst: bool,
    prefetch: bool = False,
) -> None:
    """``rounds`` rounds of one pop per agent, each to a customer not popped before in this
    shape. With ``prefetch``, the way the dialer's hopper works: leads are claimed
    (``LeadsClaimed``) ahead of their pops; a predictive hopper holds 10 + 2 N leads for N
    agents, i.e. two rounds of pops here."""
    from ari_app.dialer.events import LeadsClaimed, ScreenPop

    rng = random.Random(11)
    picks = rng.sample(customers, rounds * len(agents))
    plan = [picks[r * len(agents):(r + 1) * len(agents)] for r in range(rounds)]
    gap = 0.0 if burst else round_s / len(agents)
    if prefetch:
        for r in range(min(2, rounds)):
            bus.publish(LeadsClaimed("bench", tuple(plan[r]), time.time()))
        await asyncio.sleep(2 * round_s)
    for r in range(rounds):
        started = time.perf_counter()
        if prefetch and r + 2 < rounds:
            bus.publish(LeadsClaimed("bench", tuple(plan[r + 2]), time.time()))
        for agent, customer in zip(agents, plan[r], strict=True):
            call_id = f"call-{uuid.uuid4()}"
            bus.publish(
                ScreenPop(
                    agent,
                    call_id,
                    customer,
                    "lead",
                    "bench",
                    "+8613800138090",
                    "ringing",
                    time.time(),
                )
            )
            if gap:
                await asyncio.sleep(gap)
        await asyncio.sleep(max(0.0, round_s - (time.perf_counter() - started)))
