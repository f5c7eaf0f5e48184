"""Hopper claim latency with and without answer-model scoring (issue 5), on a 10 000-lead campaign.

    python bench/answer_claim.py --quick --json bench/results/answer_claim.json
    python bench/answer_claim.py --leads 100000 --json bench/results/answer_claim_full.json

A SQLite CRM with a synthetic history (2 560 finished calls, the hour effect of
``crm/synth/answers.py``) and a trained answer model; a campaign of N new Chinese mobile
leads. Each round claims ``limit`` leads and releases them again, timed as:

- ``before``: the repository's claim alone (what ``claim_leads`` did before the model);
- ``answer``: the claim + ``answer_models.annotate`` (the number types read, one batch scored);
- ``full``: ``CrmService.claim_leads`` as it is now (answer model + the conversion route);
- ``score_only``: ``answer_models.annotate`` alone on ``limit`` claimed leads (the added cost).

Then the whole campaign is drained ``limit`` at a time (every lead claimed once), both ways.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.db.engine import create_all, make_engine  # noqa: E402
from crm.ports import FixedClock  # noqa: E402
from crm.service import CrmService  # noqa: E402
from crm.settings import CrmSettings  # noqa: E402
from crm.synth.answers import Rows, add_lead, seed_history, write  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402

_TTL = timedelta(minutes=5)
NOW = datetime(2026, 9, 25, 11, 30, tzinfo=UTC)  # 19:30 in Shanghai: the leads are in window


async def _world(work: Path, n_leads: int) -> tuple[CrmService, uuid.UUID]:
    url = f"sqlite+aiosqlite:///{work / 'crm.db'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, model_dir=work / "models", password_scrypt_n=16,
                           recordings_dir=work / "rec")
    service = CrmService(settings, engine, clock=FixedClock(NOW))
    history = await service.campaigns.create({"name": "history"})
    await seed_history(service, history.id)
    run = await service.answer_models.retrain(force=True)
    print(f"model: {run['result']}", flush=True)
    campaign = await service.campaigns.create({"name": "bench"})
    rows = Rows([], [], [], [])
    for i in range(n_leads):
        add_lead(rows, campaign.id, f"+86137{i:08d}", "mobile", datetime(2026, 9, 1, tzinfo=UTC))
    await write(service, rows)
    return service, campaign.id


async def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = await fn()
    return (time.perf_counter() - t0) * 1000, out


async def _round(service: CrmService, campaign: uuid.UUID, limit: int, how: str) -> float:
    async def claim() -> Any:
        if how == "full":
            return await service.claim_leads(campaign, "bench", limit)
        views = await service.leads.claim(campaign, "bench", limit, _TTL)
        if how == "answer":
            views = await service.answer_models.annotate(views)
        return views

    ms, views = await _timed(claim)
    assert len(views) == limit, (how, len(views))
    if how != "before":
        assert all(v.p_answer is not None for v in views)
    await service.unlock_leads([v.id for v in views], "bench")
    return ms


async def _drain(service: CrmService, campaign: uuid.UUID, limit: int, how: str) -> float:
    """Claim every lead once, ``limit`` at a time (locks kept), then release them all."""
    claimed: list[uuid.UUID] = []
    t0 = time.perf_counter()
    while True:
        if how == "full":
            views = await service.claim_leads(campaign, "drain", limit)
        else:
            views = await service.leads.claim(campaign, "drain", limit, _TTL)
        if not views:
            break
        claimed += [v.id for v in views]
    ms = (time.perf_counter() - t0) * 1000
    await service.unlock_leads(claimed, "drain")
    return ms





def _stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"p50_ms": round(statistics.median(xs), 2),
            "p95_ms": round(xs[min(len(xs) - 1, int(0.95 * len(xs)))], 2),
            "mean_ms": round(statistics.fmean(xs), 2)}


async def run(n_leads: int, rounds: int, limits: list[int]) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        service, campaign = await _world(Path(tmp), n_leads)
        try:
            await service.answer_models.state()  # loaded once, as the server does at start
            for limit in limits:
                for how in ("before", "answer", "full"):
                    await _round(service, campaign, limit, how)  # warm-up
                    xs = [await _round(service, campaign, limit, how) for _ in range(rounds)]
                    results.append({"leads": n_leads, "limit": limit, "path": how,
                                    "rounds": rounds, **_stats(xs)})
                views = await service.leads.claim(campaign, "score", limit, _TTL)
                xs = [(await _timed(lambda v=views: service.answer_models.annotate(v)))[0]
                      for _ in range(rounds)]
                await service.unlock_leads([v.id for v in views], "score")
                results.append({"leads": n_leads, "limit": limit, "path": "score_only",
                                "rounds": rounds, **_stats(xs)})
            for how in ("before", "full"):
                ms = await _drain(service, campaign, 500, how)
                results.append({"leads": n_leads, "limit": 500, "path": f"drain_{how}",
                                "rounds": 1, "p50_ms": round(ms, 1), "p95_ms": round(ms, 1),
                                "mean_ms": round(ms, 1)})
        finally:
            await service.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under 2 minutes")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--leads", type=int, default=10_000)
    args = parser.parse_args()
    rounds = 10 if args.quick else 40
    results, lag = asyncio.run(with_loop_lag(run(args.leads, rounds, [10, 50, 500])))
    print(f"\n{'leads':>7} {'limit':>6} {'path':>13} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for r in results:
        print(f"{r['leads']:7d} {r['limit']:6d} {r['path']:>13} {r['p50_ms']:8.1f} "
              f"{r['p95_ms']:8.1f} {r['mean_ms']:8.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": results, "event_loop_lag": lag}, indent=2),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
