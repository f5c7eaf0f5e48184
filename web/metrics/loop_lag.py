"""Event-loop lag: how late the loop runs a callback that asked to run at a given time.

A timer callback re-arms itself every ``interval_s`` (``loop.call_at``, no task, no sleep);
when it runs, ``loop.time() - the time it asked for`` is the scheduling delay every other
callback, request and screen pop waited at that moment. A burst that blocks the loop (a long
synchronous stretch, a pile of ready callbacks) shows up here as a number.

- ``/metrics``: ``dialcrm_event_loop_lag_seconds`` histogram (fine buckets, 1 ms to 2.5 s; the
  histogram is :mod:`web.metrics.prometheus`'s, fed through ``on_sample``);
- benchmarks: :meth:`LoopLag.window` gives the percentiles (ms) since the last window, which
  every ``bench/*.py`` JSON carries as ``event_loop_lag``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class LoopLag:
    """Samples the running loop's scheduling delay every ``interval_s`` once :meth:`start`
    ed (from inside the loop); :meth:`stop` ends it."""

    def __init__(self, interval_s: float = 0.02, *, keep: int = 100_000,
                 on_sample: Callable[[float], None] | None = None) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.on_sample = on_sample  # e.g. a /metrics histogram's observe
        self._recent: deque[float] = deque(maxlen=keep)  # seconds, since the last window()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._arm()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self) -> None:
        assert self._loop is not None
        due = self._loop.time() + self.interval_s
        self._handle = self._loop.call_at(due, self._tick, due)

    def _tick(self, due: float) -> None:
        assert self._loop is not None
        self.observe(max(0.0, self._loop.time() - due))
        self._arm()

    def observe(self, lag_s: float) -> None:
        if self.on_sample is not None:
            self.on_sample(lag_s)
        self._recent.append(lag_s)

    def window(self, *, reset: bool = True) -> dict[str, Any]:
        """Lag percentiles in ms over the samples since the last window (``n`` samples, one
        per ``interval_s`` of the loop's time)."""
        values = [v * 1000 for v in self._recent]
        if reset:
            self._recent.clear()
        return lag_stats(values, self.interval_s)


def lag_stats(values_ms: list[float], interval_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(values_ms), "interval_ms": round(interval_s * 1000, 1)}
    if len(values_ms) >= 2:
        q = statistics.quantiles(values_ms, n=100, method="inclusive")
        out.update(p50=round(q[49], 2), p95=round(q[94], 2), p99=round(q[98], 2),
                   max=round(max(values_ms), 2))
    return out


async def with_loop_lag(work: Awaitable[T], interval_s: float = 0.02) -> tuple[T, dict[str, Any]]:
    """Await ``work`` while sampling this loop's lag (benchmarks): (its result, the lag)."""
    lag = LoopLag(interval_s)
    lag.start()
    try:
        result = await work
    finally:
        lag.stop()
    return result, lag.window()


def loop_lag_ctx(lag: LoopLag) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` sampling the app's loop while it runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        lag.start()
        yield
        lag.stop()

    return ctx


def freeze_after_startup(app: web.Application) -> None:
    """Once the app has started (every ``cleanup_ctx`` up), move what is alive into the
    garbage collector's permanent generation (``gc.freeze``): a full collection then walks
    only what was made since, not every module, ORM mapper, route and template. Measured in
    ``bench/pops.py``: full collections stalled the loop 160-200 ms (a steady window's and a
    burst's worst lag), a few ms after the freeze."""

    async def freeze(_: web.Application) -> None:
        gc.collect()
        gc.freeze()

    app.on_startup.append(freeze)  # runs after the cleanup contexts have started
