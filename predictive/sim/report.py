"""Markdown tables from the pacing benchmark's JSON rows (for ``predictive/README.md``).

    python -m predictive.sim.report predictive/results/pacing_full.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

GRID_POLICIES = ("progressive", "vicidial_adapt_average", "vicidial_hard_limit", "pi", "predictive",
                 "oracle")


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _label(r: dict) -> str:
    p = str(r["policy"])
    if r.get("hindsight"):
        return f"static_ratio (L={r['level']:.2f}, best in hindsight)"
    if r.get("variant") == "30_day_warm_window":
        return "predictive — 30 days, estimator kept warm"
    if r.get("lead_probabilities") in ("model", "pooled"):
        return f"predictive — {'model' if r['lead_probabilities'] == 'model' else 'pooled'} p"
    if r.get("lead_probabilities") == "lead" and p == "predictive":
        return "predictive — lead p"
    return p


def case_table(rows: list[dict]) -> str:
    out = [
        "| case | policy | seed-days | occupancy (min day) | talk min/agent-h | abandon mean | "
        "p95 day | max day | P(day>3%) | worst hour | pooled over all days | wait mean / p90 s "
        "| dials/connect |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['case']} | {_label(r)} | {r['days']} | {r['occupancy']:.3f} "
            f"({r['occupancy_min_day']:.3f}) | {r['talk_min_per_agent_hour']:.1f} | "
            f"{_pct(r['abandon_mean'])} | {_pct(r['abandon_p95_day'])} | "
            f"{_pct(r['abandon_max_day'])} | {r['p_day_over_cap']:.0%} | "
            f"{_pct(r['worst_hour_abandon'])} | {_pct(r['abandon_30d_max'])} | "
            f"{r['wait_mean_s']:.1f} / {r['wait_p90_s']:.0f} | {r['dials_per_connect']:.2f} |"
        )
    return "\n".join(out)


def grid_table(rows: list[dict]) -> str:
    by_case: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by_case[str(r["case"])][str(r["policy"])] = r
    present = {str(r["policy"]) for r in rows}
    policies = [p for p in GRID_POLICIES if p in present]
    head = " | ".join(policies)
    out = [
        f"| case (N, p, talk) | seed-days | {head} | predictive abandon: pooled / p95 day / "
        "max day / P(day>3%) |",
        "|---|---|" + "---|" * len(policies) + "---|",
    ]
    for case, pols in by_case.items():
        pr = pols.get("predictive")
        days = (pr or next(iter(pols.values())))["days"]
        cells = []
        for p in policies:
            got = pols.get(p)
            if got is None:
                cells.append("-")
                continue
            r = got
            cell = f"{r['occupancy']:.3f}"
            if p in ("vicidial_adapt_average", "vicidial_hard_limit", "pi"):
                cell += f" ({_pct(r['abandon_mean'])})"
            if r["days"] != days:  # rows from runs with another number of seeds say so
                cell += f" [{r['days']} d]"
            cells.append(cell)
        tail = (f"{_pct(pr['abandon_mean'])} / {_pct(pr['abandon_p95_day'])} / "
                f"{_pct(pr['abandon_max_day'])} / {pr['p_day_over_cap']:.0%}" if pr else "-")
        out.append(f"| {case.removeprefix('grid_')} | {days} | {' | '.join(cells)} | {tail} |")
    return "\n".join(out)


def cap_check(rows: list[dict], cap: float = 0.03) -> str:
    """The worst pooled abandon rate of ``predictive`` over each case's days, vs the cap."""
    ours = [r for r in rows if r["policy"] == "predictive"]
    if not ours:
        return "no predictive rows"
    worst = max(ours, key=lambda r: r["abandon_30d_max"])
    worst_day = max(ours, key=lambda r: r["abandon_max_day"])
    over = [r["case"] for r in ours if r["abandon_30d_max"] > cap]
    return (
        f"{len(ours)} predictive rows; worst pooled rate over a case's days "
        f"{_pct(worst['abandon_30d_max'])} ({worst['case']}); worst single day "
        f"{_pct(worst_day['abandon_max_day'])} ({worst_day['case']}); cases over the "
        f"{cap:.0%} cap: {', '.join(over) if over else 'none'}"
    )


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text())
    rows = data["rows"] if isinstance(data, dict) else data  # bench/pacing.py --json: {"rows"}
    grid = [r for r in rows if str(r["case"]).startswith("grid_")]
    other = [r for r in rows if not str(r["case"]).startswith("grid_")]
    if other:
        print(case_table(other), end="\n\n")
    if grid:
        print(grid_table(grid), end="\n\n")
    print(cap_check(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
