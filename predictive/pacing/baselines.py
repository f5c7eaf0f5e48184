"""Baseline pacing policies, implemented from their public descriptions.

All share the simulator's ``Policy`` shape: ``decide(snapshot)``, ``observe(event, now)``
and ``start_day(view)``. They dial a prefix of the hopper.

* progressive: one call per free agent (ready agents minus calls already ringing).
* static ratio (VICIdial RATIO): keep ``round(L * active agents)`` calls up, counting calls
  ringing, waiting and talking; active = ready + talking (agents in wrap-up/dispo are
  paused in VICIdial's accounting).
* VICIdial ADAPT_AVERAGE / ADAPT_HARD_LIMIT: the same rule with the dial level L adapted
  every 15 s from 1-s samples, with the drop brakes of the issue.
* PI: the same rule with L from a PI controller on the abandon rate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from predictive.pacing.types import (
    BusyState,
    DialDecision,
    LiveAnswerHandled,
    PacingEvent,
    PacingSnapshot,
)


def dial_prefix(snapshot: PacingSnapshot, n: int, reason: str) -> DialDecision:
    """Dial the first ``n`` hopper leads (bounded by the hopper and the line headroom)."""
    n = max(0, min(n, len(snapshot.hopper), snapshot.max_dials))
    return DialDecision(n, tuple(q.lead_id for q in snapshot.hopper[:n]), reason)


def progressive_count(snapshot: PacingSnapshot) -> int:
    return len(snapshot.ready) - len(snapshot.in_flight) - snapshot.waiting_calls


def ratio_count(snapshot: PacingSnapshot, level: float) -> int:
    talking = sum(1 for b in snapshot.busy if b.state is BusyState.TALK)
    active = len(snapshot.ready) + talking
    existing = len(snapshot.in_flight) + snapshot.waiting_calls + talking
    return round(level * active) - existing  # VICIdial: sprintf("%.0f", level*agents)


class _NoDay:
    def start_day(self, view: object) -> None:
        return None

    def observe(self, event: PacingEvent, now: float) -> None:
        return None


class Progressive(_NoDay):
    name = "progressive"

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        return dial_prefix(snapshot, progressive_count(snapshot), "progressive: 1 per free agent")


class StaticRatio(_NoDay):
    name = "static_ratio"

    def __init__(self, level: float) -> None:
        self.level = level

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        n = ratio_count(snapshot, self.level)
        return dial_prefix(snapshot, n, f"static ratio {self.level:.2f}")


@dataclass(frozen=True, slots=True)
class VicidialConfig:
    hard_limit: bool = False
    intensity: float = 0.0
    drop_limit: float = 0.03
    start_level: float = 1.0
    min_level: float = 1.0
    max_level: float = 3.0


class VicidialAdaptive:
    """ADAPT_AVERAGE (``hard_limit=False``) or ADAPT_HARD_LIMIT (``hard_limit=True``)."""

    def __init__(self, config: VicidialConfig | None = None) -> None:
        self.cfg = config or VicidialConfig()
        self.name = "vicidial_hard_limit" if self.cfg.hard_limit else "vicidial_adapt_average"
        self.level = self.cfg.start_level
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=15)
        self._recent: deque[tuple[float, bool]] = deque()
        self._answers = self._drops = 0
        self._last_update = -1.0

    def start_day(self, view: object) -> None:
        self._answers = self._drops = 0
        self._recent.clear()
        self._samples.clear()
        self._last_update = -1.0

    def observe(self, event: PacingEvent, now: float) -> None:
        if isinstance(event, LiveAnswerHandled):
            self._answers += 1
            self._drops += event.abandoned
            self._recent.append((now, event.abandoned))

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        s = snapshot
        self._samples.append((len(s.ready), s.waiting_calls, s.agents_logged_in))
        if self._last_update < 0:
            self._last_update = s.now
        if s.now - self._last_update >= 15:
            self._last_update = s.now
            self._adapt()
            self._brakes(s.now)
        return dial_prefix(s, ratio_count(s, self.level), f"vicidial level {self.level:.2f}")

    def _adapt(self) -> None:
        n = len(self._samples)
        ready = sum(x[0] for x in self._samples) / n
        waiting = sum(x[1] for x in self._samples) / n
        logged = sum(x[2] for x in self._samples) / n
        if logged <= 0:
            return
        m = (ready - waiting) / logged
        k = 1 + self.cfg.intensity / 100 if m > 0 else abs(self.cfg.intensity / 100 - 1)
        self.level = self._clamp(self.level * (1 + m * k))

    def _brakes(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - 60:
            self._recent.popleft()
        drops = sum(1 for _, d in self._recent if d)
        if len(self._recent) > 20 and drops > 0.5 * len(self._recent):
            self.level = self._clamp(self.level / 2)
        if self._answers >= 50 and self._drops / self._answers > self.cfg.drop_limit:
            self.level = self.cfg.min_level if self.cfg.hard_limit else self._clamp(self.level / 2)

    def _clamp(self, level: float) -> float:
        return min(self.cfg.max_level, max(self.cfg.min_level, level))


@dataclass(frozen=True, slots=True)
class PIConfig:
    target: float = 0.022
    kp: float = 6.0
    ki: float = 0.02  # per second of integrated error
    base_level: float = 1.3
    period_s: float = 15.0
    half_life_answers: float = 300.0
    min_level: float = 1.0
    max_level: float = 3.0


class PIController:
    """Dial level L = base + Kp*e + Ki*sum(e*dt), e = target - smoothed abandon rate."""

    name = "pi"

    def __init__(self, config: PIConfig | None = None) -> None:
        self.cfg = config or PIConfig()
        self.level = self.cfg.base_level
        self._rate = self.cfg.target
        self._integral = 0.0
        self._last = -1.0

    def start_day(self, view: object) -> None:
        self._last = -1.0

    def observe(self, event: PacingEvent, now: float) -> None:
        if isinstance(event, LiveAnswerHandled):
            alpha = 1 - 0.5 ** (1 / self.cfg.half_life_answers)
            self._rate += alpha * (float(event.abandoned) - self._rate)

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        c = self.cfg
        if self._last < 0:
            self._last = snapshot.now
        if snapshot.now - self._last >= c.period_s:
            dt, self._last = snapshot.now - self._last, snapshot.now
            err = c.target - self._rate
            self._integral = max(-1.0 / c.ki, min(1.0 / c.ki, self._integral + err * dt))
            raw = c.base_level + c.kp * err + c.ki * self._integral
            self.level = min(c.max_level, max(c.min_level, raw))
        n = ratio_count(snapshot, self.level)
        return dial_prefix(snapshot, n, f"pi level {self.level:.2f}")


def progressive_occupancy(
    talk_s: float, wrap_s: float, p_live: float, ring_live_s: float, failed_s: float
) -> float:
    """Closed form for progressive dialling: (T+W) / (T+W+E[ring]+((1-p)/p)·E[failed])."""
    busy = talk_s + wrap_s
    return busy / (busy + ring_live_s + (1.0 - p_live) / p_live * failed_s)
