"""Pacing benchmark: every policy on the same seeds (common random numbers).

    python bench/pacing.py --quick --json bench/results/pacing.json
    python bench/pacing.py --json bench/results/pacing_full.json   # long

Quick: the target scenario (N=20, p=0.30, talk 120 s cv 1.0), 8 seeds x one 8-hour day.
Full: target, scale (N=10, 50), non-stationary and heterogeneous cases (per-lead true p,
per-lead p from an XGBoost model learned on simulated history, one pooled rate), new lists
(a mid-day switch from p = 0.3 to 0.9, a new list mixed in; ours and ``predictive_pooled``,
the policy before issue 18 items 2-3: one campaign-wide p scale, no abandon budget) and small
teams (N = 3, 5), 20 seeds each, one 30-day warm run of ``predictive`` on the target, then
the issue's grid (N x p x talk) with every policy but the hindsight static ratio, run in
batches of seeds across all grid cases (the JSON is rewritten after each batch, so a run
stopped early leaves every case with the same number of seeds, recorded per row).
The static-ratio row is the best ratio *in hindsight*: the highest level whose mean
abandon rate is <= 2.5 % and P(day > 3 %) <= 5 % on these very seeds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from predictive.sim.metrics import DayResult, Summary, summarize  # noqa: E402
from predictive.sim.runner import POLICIES, Job, feasible, run_job  # noqa: E402
from predictive.sim.scenario import Scenario, grid, load_named  # noqa: E402

COLUMNS = (
    ("case", "{:<24}"), ("policy", "{:<23}"), ("occupancy", "{:>6.3f}"),
    ("talk_min_per_agent_hour", "{:>6.1f}"), ("abandon_mean", "{:>7.2%}"),
    ("abandon_p95_day", "{:>7.2%}"), ("p_day_over_cap", "{:>6.0%}"),
    ("worst_hour_abandon", "{:>7.2%}"), ("wait_mean_s", "{:>6.1f}"), ("wait_p90_s", "{:>6.1f}"),
    ("dials_per_connect", "{:>5.2f}"), ("level", "{:>5}"),
)
HEADER = "case policy occ talk/h ab_mean ab_p95 P>cap worst_h wait p90 d/c level".split()


class DayCache:
    """Every finished job's day results, one JSON line each, so a stopped run resumes.

    Keyed by the scenario's full definition (hashed), policy, seed, days and level. It does
    not know the code: use a new file (or delete it) after a change that alters results.
    Waits are stored as a histogram (values are whole seconds), which the summary reads back
    sorted: the same mean (to rounding) and percentiles.
    """

    def __init__(self, path: Path | None) -> None:
        self.path, self._lock, self.hits = path, threading.Lock(), 0
        self._done: dict[str, list[DayResult]] = {}
        if path and path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    self._done[rec["key"]] = [_day_from(d) for d in rec["days"]]

    @staticmethod
    def key(job: Job) -> str:
        text = repr(job.scenario).replace(", p_bias=1.0", "")  # keys older than p_bias hold
        h = hashlib.sha1(text.encode()).hexdigest()[:12]
        return f"{job.scenario.name}|{h}|{job.policy}|{job.seed}|{job.days}|{job.level!r}"

    def submit(self, ex: Executor, job: Job) -> Future:
        k = self.key(job)
        if k in self._done:
            self.hits += 1
            f: Future = Future()
            f.set_result(self._done[k])
            return f
        f = ex.submit(run_job, job)
        if self.path:
            f.add_done_callback(lambda fut: self._store(k, fut))
        return f

    def _store(self, k: str, fut: Future) -> None:
        if fut.cancelled() or fut.exception() is not None or not self.path:
            return
        days = fut.result()
        line = json.dumps({"key": k, "days": [_day_to(d) for d in days]})
        with self._lock:
            self._done[k] = days
            with self.path.open("a") as fh:
                fh.write(line + "\n")


def _day_to(d: DayResult) -> dict:
    out = asdict(d)
    vals, counts = np.unique(np.asarray(d.waits, dtype=float), return_counts=True)
    out["waits"] = [vals.tolist(), counts.tolist()]
    return out


def _day_from(raw: dict) -> DayResult:
    vals, counts = raw.pop("waits")
    waits = tuple(np.repeat(np.asarray(vals, dtype=float), counts).tolist())
    return DayResult(**{**raw, "waits": waits, "hourly_live": tuple(raw["hourly_live"]),
                        "hourly_abandon": tuple(raw["hourly_abandon"])})


CACHE = DayCache(None)


def _summ(ex: Executor, s: Scenario, policy: str, seeds: range, days: int = 1,
          level: float = 1.0) -> Summary:
    futs = [CACHE.submit(ex, Job(s, policy, seed, days, level)) for seed in seeds]
    return summarize([d for f in futs for d in f.result()], s.cap)


def _row(s: Scenario, policy: str, m: Summary, seeds: int, **extra: object) -> dict:
    row: dict[str, object] = {
        "case": s.name, "agents": s.agents, "answer_rate": s.answer_rate,
        "talk_mean_s": s.talk_mean_s, "talk_cv": s.talk_cv, "wrap_s": s.wrap_s,
        "policy": policy, "seeds": seeds, "p_profile": s.p_profile,
        "lead_probabilities": s.p_info if s.heterogeneous else "homogeneous",
        "p_bias": s.p_bias,
    }
    row.update(asdict(m))
    row.update(extra)
    row.setdefault("level", None)
    return row


def _static(ex: Executor, s: Scenario, seeds: range, steps: int) -> tuple[float, Summary]:
    """Bisection on the level for the highest feasible static ratio."""
    lo, hi = 1.0, 2.0
    best_level, best = lo, _summ(ex, s, "static_ratio", seeds, level=lo)
    if not feasible(best):
        return best_level, best
    for _ in range(steps):
        mid = round((lo + hi) / 2, 3)
        m = _summ(ex, s, "static_ratio", seeds, level=mid)
        if feasible(m):
            lo, best_level, best = mid, mid, m
        else:
            hi = mid
    return best_level, best


def run_case(ex: Executor, s: Scenario, seeds: range, steps: int, policies: tuple[str, ...],
             ) -> list[dict]:
    rows = []
    jobs = {p: [Job(s, p, sd) for sd in seeds] for p in policies if p != "static_ratio"}
    futures = {p: [CACHE.submit(ex, j) for j in js] for p, js in jobs.items()}
    if "static_ratio" in policies:
        level, m = _static(ex, s, seeds, steps)
        rows.append(_row(s, "static_ratio", m, len(seeds), level=level, hindsight=True))
    for p, fs in futures.items():
        m = summarize([d for f in fs for d in f.result()], s.cap)
        rows.append(_row(s, p, m, len(seeds)))
    order = {p: i for i, p in enumerate(POLICIES)}
    return sorted(rows, key=lambda r: order.get(str(r["policy"]), 99))


def print_rows(rows: list[dict]) -> None:
    print(" ".join(f"{h:>7}" for h in HEADER))
    for r in rows:
        cells = []
        for key, fmt in COLUMNS:
            v = r.get(key)
            cells.append(fmt.format("-" if v is None else v) if v is None or key != "level"
                         else f"{v:>5.2f}")
        print(" ".join(cells), flush=True)


def _policies(s: Scenario) -> tuple[str, ...]:
    """Heterogeneous variants with learned / pooled probabilities only change ours."""
    if s.p_bias != 1.0:  # only ours reads the reported p (the oracle knows the outcomes)
        return ("predictive",)
    if s.has_lists or s.agents <= 5:  # issue 18: ours before and after, and progressive
        return ("progressive", "predictive_pooled", "predictive")
    return ("predictive",) if s.heterogeneous and s.p_info != "lead" else POLICIES


def cases(quick: bool) -> list[tuple[Scenario, tuple[str, ...]]]:
    """The non-grid cases (the grid runs separately, seed batch by seed batch)."""
    target = load_named("target")
    if quick:
        return [(s, POLICIES) for s in target]
    named = target + load_named("scale") + load_named("special") + load_named("lists")
    return [(s, _policies(s)) for s in named + load_named("small")]


GRID_POLICIES = tuple(p for p in POLICIES if p != "static_ratio")


def run_grid(ex: Executor, scenarios: list[Scenario], seeds: range, policies: tuple[str, ...],
             batch: int, on_batch: Callable[[list[dict]], None]) -> list[dict]:
    """Every grid case x policy, ``batch`` seeds at a time across all cases.

    After each batch the rows (over all seeds run so far) go to ``on_batch``, so a run
    stopped early still leaves every case with the same, stated number of seeds.
    """
    days: dict[tuple[str, str], list] = {(s.name, p): [] for s in scenarios for p in policies}
    rows: list[dict] = []
    for start in range(seeds.start, seeds.stop, batch):
        chunk = range(start, min(start + batch, seeds.stop))
        t0 = time.time()
        # the slowest jobs (many agents, predictive) first so the two workers end together
        jobs = sorted(((s, p, sd) for s in scenarios for p in policies for sd in chunk),
                      key=lambda j: -j[0].agents * (4 if j[1] in ("predictive", "oracle") else 1))
        futs = [(s, p, CACHE.submit(ex, Job(s, p, sd))) for s, p, sd in jobs]
        for s, p, f in futs:
            days[(s.name, p)].extend(f.result())
        done = chunk.stop - seeds.start
        rows = [_row(s, p, summarize(days[(s.name, p)], s.cap), done, seed_range=[
            seeds.start, chunk.stop - 1]) for s in scenarios for p in policies]
        print(f"# grid: seeds {seeds.start}..{chunk.stop - 1} done "
              f"({time.time() - t0:.0f} s for this batch)", flush=True)
        on_batch(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="target scenario, 8 seeds")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--seeds", type=int, help="seeds per case (default 8 quick, 20 full)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", help="comma-separated case names to run (30_day_warm_window: "
                    "the 30-day run)")
    ap.add_argument("--no-window", action="store_true", help="skip the 30-day run (full)")
    ap.add_argument("--grid-seeds", type=int, help="seeds per grid case (default: --seeds)")
    ap.add_argument("--grid-batch", type=int, default=5,
                    help="grid seeds run across all cases before the JSON is rewritten")
    ap.add_argument("--no-grid", action="store_true", help="skip the N x p x talk grid (full)")
    ap.add_argument("--grid-only", action="store_true", help="only the grid (full)")
    ap.add_argument("--grid-policies", help="grid policies (default: all but static_ratio)")
    ap.add_argument("--policies", help="comma-separated subset of " + ",".join(POLICIES)
                    + ",predictive_pooled")
    ap.add_argument("--cache", type=Path, help="day results of finished jobs (JSON lines): "
                    "read to skip them, appended as jobs finish, so a stopped run resumes")
    args = ap.parse_args(argv)
    global CACHE
    CACHE = DayCache(args.cache)
    seeds = range(args.seeds or (8 if args.quick else 20))
    steps = 5 if args.quick else 6
    only = set(args.only.split(",")) if args.only else None
    wanted = set(args.policies.split(",")) if args.policies else None
    rows: list[dict] = []
    t0 = time.time()

    def write(extra: list[dict]) -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            # synchronous (a process pool): no event loop to lag (every bench's JSON says so)
            args.json.write_text(json.dumps({"rows": rows + extra, "event_loop_lag": None},
                                            indent=1))

    with ProcessPoolExecutor(args.workers) as ex:
        for s, pols in ([] if args.grid_only else cases(args.quick)):
            if only and s.name not in only:
                continue
            if wanted:
                pols = tuple(p for p in pols if p in wanted)
            case_rows = run_case(ex, s, seeds, steps, pols)
            print_rows(case_rows)
            rows += case_rows
            write([])
        window = not only or "30_day_warm_window" in only
        if not args.quick and not args.no_window and not args.grid_only and window:
            s = load_named("target")[0]
            m = _summ(ex, s, "predictive", range(1000, 1001), days=30)
            rows.append(_row(s, "predictive", m, 1, variant="30_day_warm_window"))
            print_rows(rows[-1:])
            write([])
        if not args.quick and not args.no_grid:
            scen = [s for s in grid() if not only or s.name in only]
            gp = set(args.grid_policies.split(",")) if args.grid_policies else wanted
            pols = tuple(p for p in GRID_POLICIES if not gp or p in gp)
            grid_seeds = range(args.grid_seeds) if args.grid_seeds else seeds
            if scen and pols:
                grid_rows = run_grid(ex, scen, grid_seeds, pols, args.grid_batch, write)
                print_rows(grid_rows)
                rows += grid_rows
    print(f"# {len(rows)} rows in {time.time() - t0:.0f} s; seeds {seeds.start}..{seeds.stop - 1}"
          f"; {CACHE.hits} jobs read from the cache")
    write([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
