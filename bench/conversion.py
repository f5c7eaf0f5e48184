"""The conversion model in the CRM: training, rescoring and the route at claim, timed.

    python bench/conversion.py --quick --json bench/results/conversion.json

Writes a synthetic CRM history (``crm/synth/conversion.py``: customers with a latent
propensity, 1-6 calls before the label window, 1-2 in it) to SQLite, then times through the
CRM services: building the Customer360 rows, a forced retrain (rows, XGBoost on one thread,
calibration, storage, scoring and writing every customer's route), a rescore with the stored
model, and hopper claims of 50 leads with and without the route lookup. Prints a table and
writes JSON (held-out metrics and route shares included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.db.engine import create_all, make_engine  # noqa: E402
from crm.ports import FixedClock  # noqa: E402
from crm.service import CrmService  # noqa: E402
from crm.settings import CrmSettings  # noqa: E402
from crm.synth.conversion import write_history  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai: inside the calling window


class LoopLag:
    """The event loop's worst delay while work runs (what a pop or an API call would wait)."""

    def __init__(self) -> None:
        self.worst_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - t0 - 0.01) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def _timed(coro: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = await coro
    return result, (time.perf_counter() - t0) * 1000


async def run(customers: int, claims: int, work: Path) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{work / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=work / "rec", model_dir=work / "m",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine, clock=FixedClock(NOW))
    try:
        await crm.reference.seed_dispositions()
        synth, seed_ms = await _timed(write_history(crm, NOW, n=customers))
        rows, rows_ms = await _timed(crm.conversion.training_rows())
        with LoopLag() as train_lag:
            run_, train_ms = await _timed(crm.conversion.retrain(force=True))
        with LoopLag() as rescore_lag:
            scored, rescore_ms = await _timed(crm.conversion.score_all())
        with_route, without = [], []
        for i in range(claims):
            t0 = time.perf_counter()
            views = await crm.leads.claim(synth.campaign_id, f"w{i}", 50, timedelta(minutes=5))
            views = await crm.answer_models.annotate(views)
            t1 = time.perf_counter()
            await crm.conversion.annotate(views)
            t2 = time.perf_counter()
            without.append((t1 - t0) * 1000)
            with_route.append((t2 - t0) * 1000)
        summary = await crm.conversion.summary()
    finally:
        await crm.close()
    m = summary["metrics"]
    return {
        "customers": customers, "training_rows": len(rows), "seed_ms": round(seed_ms),
        "rows_ms": round(rows_ms, 1), "retrain_ms": round(train_ms, 1),
        "rescore_ms": round(rescore_ms, 1), "scored": scored, "trained": run_.trained,
        "retrain_loop_lag_max_ms": round(train_lag.worst_ms, 1),
        "rescore_loop_lag_max_ms": round(rescore_lag.worst_ms, 1),
        "claim50_p50_ms": round(statistics.median(with_route), 2),
        "claim50_p50_without_route_ms": round(statistics.median(without), 2),
        "route_lookup_p50_ms": round(statistics.median(
            [a - b for a, b in zip(with_route, without, strict=True)]), 2),
        "brier": round(m["brier"], 4), "brier_base_rate": round(m["brier_base_rate"], 4),
        "log_loss": round(m["log_loss"], 4), "auc": round(m["auc"], 3),
        "ece": round(m["ece"], 3), "n_test": m["n"],
        "shares": {k: v["share"] for k, v in summary["shares"].items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 000 customers (else 30 000)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [5000] if args.quick else [5000, 30000]
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            row, lag = asyncio.run(with_loop_lag(run(n, 20, Path(tmp))))
            results.append({**row, "event_loop_lag": lag})
    cols = ("customers", "training_rows", "rows_ms", "retrain_ms", "retrain_loop_lag_max_ms",
            "rescore_ms", "rescore_loop_lag_max_ms",
            "claim50_p50_ms", "route_lookup_p50_ms", "brier", "brier_base_rate", "auc", "ece")
    print(" | ".join(cols))
    for r in results:
        print(" | ".join(str(r[c]) for c in cols) + f" | shares {r['shares']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
