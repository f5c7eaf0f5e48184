"""bench/pacing.py rows carry the fields the issue lists (tiny scenario, threads)."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from predictive.sim.draws import LeadBook
from predictive.sim.runner import POLICIES
from predictive.sim.scenario import Scenario, load_named

REQUIRED = {
    "case", "agents", "answer_rate", "talk_mean_s", "talk_cv", "policy", "occupancy",
    "abandon_mean", "abandon_p95_day", "p_day_over_cap", "wait_mean_s", "dials_per_connect",
}


def _bench():  # noqa: ANN202
    path = Path(__file__).resolve().parents[2] / "bench" / "pacing.py"
    spec = importlib.util.spec_from_file_location("bench_pacing", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_given_a_tiny_case_when_benchmarked_then_rows_have_the_issue_fields() -> None:
    bench = _bench()
    s = Scenario(name="tiny", agents=3, answer_rate=0.3, talk_mean_s=60, talk_cv=1.0,
                 day_s=900, pauses_per_agent=0)
    with ThreadPoolExecutor(2) as ex:
        rows = bench.run_case(ex, s, range(2), 1, POLICIES)
    assert [r["policy"] for r in rows] == list(POLICIES)
    for r in rows:
        assert REQUIRED <= set(r)
        assert 0 <= r["occupancy"] <= 1
    assert next(r for r in rows if r["policy"] == "static_ratio")["hindsight"] is True


def test_given_the_learned_lead_model_when_drawing_then_it_tracks_the_true_p() -> None:
    s = next(x for x in load_named("special") if x.p_info == "model")
    ch, _ = LeadBook(replace(s, name="m"), 0, 0).chunk(0)
    assert np.corrcoef(ch.p_model, ch.p_base)[0, 1] > 0.9


def test_given_grid_cases_when_run_in_seed_batches_then_each_batch_rewrites_all_rows() -> None:
    bench = _bench()
    cases = [Scenario(name=f"tiny{n}", agents=n, answer_rate=0.3, talk_mean_s=60, talk_cv=1.0,
                      day_s=600, pauses_per_agent=0) for n in (2, 3)]
    seen: list[list[dict]] = []
    with ThreadPoolExecutor(2) as ex:
        rows = bench.run_grid(ex, cases, range(3), ("progressive", "oracle"), 2, seen.append)
    assert [len(b) for b in seen] == [4, 4]  # two batches (seeds 0-1, then 2), 2 cases x 2
    assert [r["seeds"] for r in seen[0]] == [2] * 4 and [r["seeds"] for r in rows] == [3] * 4
    assert all(r["days"] == 3 and r["seed_range"] == [0, 2] for r in rows)
    assert {(r["case"], r["policy"]) for r in rows} == {
        (c.name, p) for c in cases for p in ("progressive", "oracle")}
    for r in rows:
        assert REQUIRED <= set(r)


def test_given_bench_rows_when_reported_then_tables_and_the_cap_check() -> None:
    from predictive.sim.report import cap_check, case_table, grid_table

    rows = []
    for name, rate in (("target_x", 0.021), ("grid_n5_p10_t45", 0.034)):
        for p in ("progressive", "predictive"):
            rows.append({"case": name, "policy": p, "days": 3, "occupancy": 0.8,
                         "occupancy_min_day": 0.7, "talk_min_per_agent_hour": 40.0,
                         "abandon_mean": rate, "abandon_p95_day": rate, "abandon_max_day": rate,
                         "p_day_over_cap": 0.0, "worst_hour_abandon": rate,
                         "abandon_30d_max": rate, "wait_mean_s": 9.0, "wait_p90_s": 20.0,
                         "dials_per_connect": 3.3, "lead_probabilities": "homogeneous"})
    assert "| target_x | predictive | 3 | 0.800 (0.700) |" in case_table(rows[:2])
    assert "| n5_p10_t45 | 3 | 0.800 | 0.800 | 3.40% /" in grid_table(rows[2:])
    assert "| progressive | predictive |" in grid_table(rows[2:])
    assert cap_check(rows).endswith("cases over the 3% cap: grid_n5_p10_t45")


def test_given_a_day_cache_when_the_grid_reruns_then_finished_jobs_are_read_back_the_same(
    tmp_path: Path,
) -> None:
    bench = _bench()
    cases = [Scenario(name="tinyc", agents=3, answer_rate=0.3, talk_mean_s=60, talk_cv=1.0,
                      day_s=600, pauses_per_agent=0)]
    path = tmp_path / "days.jsonl"
    bench.CACHE = bench.DayCache(path)
    with ThreadPoolExecutor(2) as ex:
        first = bench.run_grid(ex, cases, range(2), ("progressive", "predictive"), 1,
                               lambda rows: None)
    assert bench.CACHE.hits == 0 and len(path.read_text().splitlines()) == 4
    bench.CACHE = bench.DayCache(path)  # a new run (resumed) reads the four jobs back
    with ThreadPoolExecutor(2) as ex:
        again = bench.run_grid(ex, cases, range(3), ("progressive", "predictive"), 1,
                               lambda rows: None)
    assert bench.CACHE.hits == 4 and len(path.read_text().splitlines()) == 6
    with ThreadPoolExecutor(2) as ex:
        two = bench.run_grid(ex, cases, range(2), ("progressive", "predictive"), 1,
                             lambda rows: None)
    for a, b in zip(first, two, strict=True):
        for k in ("occupancy", "abandon_mean", "wait_p90_s", "dials_per_connect", "days"):
            assert a[k] == b[k]
        assert abs(a["wait_mean_s"] - b["wait_mean_s"]) < 1e-9
    assert [r["seeds"] for r in again] == [3, 3]
    bench.CACHE = bench.DayCache(None)


def test_given_grid_rows_with_different_seed_counts_when_reported_then_cells_say_so() -> None:
    from predictive.sim.report import grid_table

    base = {"case": "grid_n5_p10_t45", "occupancy": 0.8, "abandon_mean": 0.02,
            "abandon_p95_day": 0.02, "abandon_max_day": 0.02, "p_day_over_cap": 0.0}
    rows = [{**base, "policy": "predictive", "days": 6},
            {**base, "policy": "vicidial_hard_limit", "days": 3, "occupancy": 0.7}]
    table = grid_table(rows)
    assert "| vicidial_hard_limit | predictive |" in table
    assert "| n5_p10_t45 | 6 | 0.700 (2.00%) [3 d] | 0.800 |" in table
