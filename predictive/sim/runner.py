"""Run policies over scenarios and seeds (optionally in worker processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from predictive.pacing.baselines import (
    PIConfig,
    PIController,
    Progressive,
    StaticRatio,
    VicidialAdaptive,
    VicidialConfig,
)
from predictive.pacing.estimator import EstimatorConfig
from predictive.pacing.policy import PredictivePolicy
from predictive.sim.engine import Policy, simulate_day
from predictive.sim.metrics import DayResult, Summary, summarize
from predictive.sim.oracle import Oracle
from predictive.sim.scenario import Scenario

POLICIES: tuple[str, ...] = (
    "progressive", "static_ratio", "vicidial_adapt_average", "vicidial_hard_limit", "pi",
    "predictive", "oracle",
)
INTERNAL_TARGET = 0.8  # policies with a target aim at 80 % of the cap


def make_policy(name: str, s: Scenario, level: float = 1.0) -> Policy:
    """A fresh policy instance; targets derive from the cap only (no per-scenario tuning)."""
    target = INTERNAL_TARGET * s.cap
    if name == "progressive":
        return Progressive()
    if name == "static_ratio":
        return StaticRatio(level)
    if name in ("vicidial_adapt_average", "vicidial_hard_limit"):
        return VicidialAdaptive(
            VicidialConfig(hard_limit=name == "vicidial_hard_limit", drop_limit=s.cap)
        )
    if name == "pi":
        return PIController(PIConfig(target=target))
    if name == "predictive":
        return PredictivePolicy(
            # the estimator starts from its one neutral prior (EstimatorConfig's defaults),
            # never from the scenario's true talk or wrap-up times, and learns them online
            EstimatorConfig(target_abandon=target, abandon_window_s=s.abandon_window_s)
        )
    if name == "predictive_pooled":  # as before issue 18 items 2-3: one campaign-wide p
        return PredictivePolicy(  # scale, no abandon budget (the bench's "before" rows)
            EstimatorConfig(target_abandon=target, abandon_window_s=s.abandon_window_s,
                            per_list=False, budget_share=0.0), name=name)
    if name == "oracle":
        return Oracle(s.abandon_window_s)
    raise ValueError(f"unknown policy {name!r}")


@dataclass(frozen=True, slots=True)
class Job:
    scenario: Scenario
    policy: str
    seed: int
    days: int = 1
    level: float = 1.0


def run_job(job: Job) -> list[DayResult]:
    """One seed: ``days`` consecutive days with the same (warm) policy instance."""
    policy = make_policy(job.policy, job.scenario, job.level)
    return [simulate_day(job.scenario, policy, job.seed, d) for d in range(job.days)]


def run_jobs(jobs: list[Job], workers: int) -> list[list[DayResult]]:
    if workers <= 1:
        return [run_job(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(run_job, jobs, chunksize=1))


def evaluate(
    s: Scenario, policy: str, seeds: Iterable[int], workers: int, days: int = 1,
    level: float = 1.0,
) -> Summary:
    jobs = [Job(s, policy, seed, days, level) for seed in seeds]
    results = run_jobs(jobs, workers)
    return summarize([d for r in results for d in r], s.cap)


def feasible(m: Summary, mean_cap: float = 0.025, day_prob: float = 0.05) -> bool:
    """The issue's acceptance constraint on abandons."""
    return m.abandon_mean <= mean_cap and m.p_day_over_cap <= day_prob


def tune_static_ratio(
    run: Callable[[float], Summary], lo: float = 1.0, hi: float = 2.5, steps: int = 5
) -> tuple[float, Summary]:
    """Best static ratio in hindsight: the highest feasible level, by bisection on level."""
    best_level, best = lo, run(lo)
    if not feasible(best):
        return best_level, best
    for _ in range(steps):
        mid = round((lo + hi) / 2, 3)
        m = run(mid)
        if feasible(m):
            lo, best_level, best = mid, mid, m
        else:
            hi = mid
    return best_level, best
