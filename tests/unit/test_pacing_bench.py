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
