"""Live transcripts of every connected call: one :class:`LegFork` per speaker, started when
the call goes live and stopped when it ends (see ``fork.py`` for how a leg works).

The hooks (:meth:`AudioForks.call_live`, :meth:`AudioForks.call_ended`) are synchronous and
never wait: the dialer calls them from its event handlers, and the call must never wait for
the recogniser or for ARI requests about the fork.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ari_app.speech.fork import (
    LEGS,
    ForkConfig,
    ForkControl,
    ForkStats,
    LegFork,
    RecogniserLike,
    Sink,
)
from ari_app.tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass
class CallFork:
    call_id: str
    legs: list[LegFork]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class AudioForks:
    """Starts and stops the forks of live calls; keeps its tasks referenced and logged."""

    def __init__(self, control: ForkControl, recogniser: RecogniserLike, sink: Sink,
                 config: ForkConfig | None = None,
                 prompt_of: Callable[[str], str | None] = lambda campaign_id: None,
                 speakers: tuple[str, ...] = ("customer", "agent"),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._control, self.recogniser, self._sink = control, recogniser, sink
        self.config = config or ForkConfig()
        self._prompt_of = prompt_of
        self._legs = tuple((s, spy) for s, spy in LEGS if s in speakers)
        self._clock = clock
        self.calls: dict[str, CallFork] = {}
        self.finished: dict[str, CallFork] = {}  # the last few, for tests and status
        self.stats = ForkStats()
        self._tasks = TaskSet(log)

    # ----------------------------------------------------------------- hooks --
    def call_live(self, call_id: str, campaign_id: str, channel_id: str | None = None,
                  elapsed_s: float = 0.0) -> None:
        """A customer was bridged to an agent: fork both speakers (never blocks).

        ``elapsed_s``: the call has been live this long already (a call adopted after a
        controller restart): times stay relative to the bridging, the missed part is a gap."""
        if call_id in self.calls:
            return
        prompt = self._prompt_of(campaign_id)
        t0 = self._clock() - max(0.0, elapsed_s)
        reason = "controller_restart" if elapsed_s > 0 else "fork_starting"
        legs = [LegFork(call_id, channel_id or call_id, speaker, spy, self._control,
                        self.recogniser, self._sink, self.config, prompt, self.stats,
                        t0=t0, clock=self._clock, lost_reason=reason)
                for speaker, spy in self._legs]
        fork = CallFork(call_id, legs)
        self.calls[call_id] = fork
        self.stats.forks += 1
        for leg in legs:
            fork.tasks.append(self._spawn(leg.run(), f"fork-{call_id}-{leg.speaker}"))
        log.info("call %s: forking %s audio", call_id, "+".join(s for s, _ in self._legs))

    def call_ended(self, call_id: str) -> None:
        """The call is over: stop its forks (in the background; never blocks)."""
        fork = self.calls.get(call_id)
        if fork is None or fork.stopping:
            return
        fork.stopping = True
        self._spawn(self._stop(fork), f"fork-stop-{call_id}")

    async def _stop(self, fork: CallFork) -> None:
        for leg in fork.legs:
            await leg.stop()
        results = await asyncio.gather(*fork.tasks, return_exceptions=True)
        for leg, result in zip(fork.legs, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result,
                                                                  asyncio.CancelledError):
                log.error("call %s %s: fork failed", fork.call_id, leg.speaker,
                          exc_info=result)
        self.calls.pop(fork.call_id, None)
        self.finished[fork.call_id] = fork
        while len(self.finished) > 50:
            self.finished.pop(next(iter(self.finished)))
        fork.done.set()
        log.info("call %s: forks stopped (%s)", fork.call_id, ", ".join(
            f"{leg.speaker}: {leg.frames} frames, {leg.rebuilds} rebuilds" for leg in fork.legs))

    async def wait_stopped(self, call_id: str, timeout: float = 30.0) -> CallFork:
        """Until the call's forks are torn down and their last segments handed over."""
        fork = self.calls.get(call_id) or self.finished.get(call_id)
        if fork is None:
            raise KeyError(call_id)
        async with asyncio.timeout(timeout):
            await fork.done.wait()
        return fork

    async def close(self) -> None:
        """Shut down: stop every fork (tearing down their channels), then cancel leftovers."""
        for call_id in list(self.calls):
            self.call_ended(call_id)
        pending = [t for t in self._tasks if t.get_name().startswith("fork-stop-")]
        try:
            async with asyncio.timeout(self.config.close_timeout_s + 5):
                await asyncio.gather(*pending, return_exceptions=True)
        except TimeoutError:
            log.warning("forks did not stop in time; cancelling")
        await self._tasks.close()

    def status(self) -> dict[str, Any]:
        lat = sorted(self.stats.latencies_s)
        return {
            "live": len(self.calls), "forks": self.stats.forks, "segments": self.stats.segments,
            "gaps": self.stats.gaps, "rebuilds": self.stats.rebuilds,
            "latency_p50_s": lat[len(lat) // 2] if lat else None,
            "latency_max_s": lat[-1] if lat else None,
        }

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)
