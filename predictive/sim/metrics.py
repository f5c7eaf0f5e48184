"""Per-day tallies and their aggregation across seeds/days."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OFF, READY, TALK, WRAP, PAUSED = range(5)


@dataclass(slots=True)
class DayTally:
    """Mutable counters filled by the event loop."""

    day_s: int
    state_s: list[float] = field(default_factory=lambda: [0.0] * 5)
    dials: int = 0
    connects: int = 0
    live_answers: int = 0
    abandons: int = 0
    machine_abandons: int = 0
    amd_lost: int = 0
    human_talk_s: float = 0.0
    waits: list[float] = field(default_factory=list)
    hourly_live: list[int] = field(default_factory=list)
    hourly_abandon: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        hours = max(1, -(-self.day_s // 3600))
        self.hourly_live = [0] * hours
        self.hourly_abandon = [0] * hours

    def add_state(self, state: int, dt: float) -> None:
        self.state_s[state] += dt

    def answer(self, now: float) -> None:
        self.live_answers += 1
        self.hourly_live[min(int(now // 3600), len(self.hourly_live) - 1)] += 1

    def abandon(self, now: float) -> None:
        self.abandons += 1
        self.hourly_abandon[min(int(now // 3600), len(self.hourly_abandon) - 1)] += 1

    def result(self) -> DayResult:
        st = self.state_s
        return DayResult(
            staffed_s=st[READY] + st[TALK] + st[WRAP], handle_s=st[TALK] + st[WRAP],
            human_talk_s=self.human_talk_s, dials=self.dials, connects=self.connects,
            live_answers=self.live_answers, abandons=self.abandons,
            machine_abandons=self.machine_abandons, amd_lost=self.amd_lost,
            waits=tuple(self.waits), hourly_live=tuple(self.hourly_live),
            hourly_abandon=tuple(self.hourly_abandon),
        )


@dataclass(frozen=True, slots=True)
class DayResult:
    """One simulated day. Staffed time = logged in and not paused."""

    staffed_s: float
    handle_s: float
    human_talk_s: float
    dials: int
    connects: int
    live_answers: int
    abandons: int
    machine_abandons: int
    amd_lost: int
    waits: tuple[float, ...]
    hourly_live: tuple[int, ...]
    hourly_abandon: tuple[int, ...]

    @property
    def occupancy(self) -> float:
        return self.handle_s / self.staffed_s if self.staffed_s else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.live_answers if self.live_answers else 0.0


@dataclass(frozen=True, slots=True)
class Summary:
    """Aggregate over days (each seed/day weighted by its own staffed time / answers)."""

    days: int
    occupancy: float
    talk_min_per_agent_hour: float
    abandon_mean: float
    abandon_p95_day: float
    p_day_over_cap: float
    abandon_max_day: float
    abandon_30d_max: float
    worst_hour_abandon: float
    wait_mean_s: float
    wait_p90_s: float
    dials_per_connect: float
    abandon_ofcom: float
    occupancy_min_day: float


def _rolling_max(abandons: np.ndarray, lives: np.ndarray, width: int) -> float:
    width = min(width, len(lives))
    best = 0.0
    for i in range(len(lives) - width + 1):
        live = lives[i : i + width].sum()
        best = max(best, abandons[i : i + width].sum() / live if live else 0.0)
    return float(best)


def summarize(days: list[DayResult], cap: float) -> Summary:
    occ = np.array([d.occupancy for d in days])
    rates = np.array([d.abandon_rate for d in days])
    ab = np.array([d.abandons for d in days], dtype=float)
    live = np.array([d.live_answers for d in days], dtype=float)
    staffed = sum(d.staffed_s for d in days)
    waits = np.concatenate([np.asarray(d.waits, dtype=float) for d in days] or [np.zeros(0)])
    hl = np.array([h for d in days for h in d.hourly_live], dtype=float)
    ha = np.array([h for d in days for h in d.hourly_abandon], dtype=float)
    hour_rates = np.divide(ha, hl, out=np.zeros_like(ha), where=hl >= 20)
    connects = sum(d.connects for d in days)
    lost = sum(d.amd_lost for d in days)
    return Summary(
        days=len(days),
        occupancy=sum(d.handle_s for d in days) / staffed if staffed else 0.0,
        talk_min_per_agent_hour=(sum(d.human_talk_s for d in days) / 60) / (staffed / 3600),
        abandon_mean=float(ab.sum() / live.sum()) if live.sum() else 0.0,
        abandon_p95_day=float(np.percentile(rates, 95)),
        p_day_over_cap=float(np.mean(rates > cap)),
        abandon_max_day=float(rates.max()),
        abandon_30d_max=_rolling_max(ab, live, 30),
        worst_hour_abandon=float(hour_rates.max()) if len(hour_rates) else 0.0,
        wait_mean_s=float(waits.mean()) if len(waits) else 0.0,
        wait_p90_s=float(np.percentile(waits, 90)) if len(waits) else 0.0,
        dials_per_connect=sum(d.dials for d in days) / connects if connects else float("inf"),
        abandon_ofcom=float((ab.sum() + lost) / (live.sum() + lost)) if live.sum() else 0.0,
        occupancy_min_day=float(occ.min()),
    )
