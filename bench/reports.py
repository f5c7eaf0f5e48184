"""Report and list-penetration query times on a loaded CRM database.

    python bench/reports.py --quick --json bench/results/reports.json
    python bench/reports.py --database-url postgresql+asyncpg://...   # PostgreSQL (emptied!)

Bulk-inserts calls (10 campaigns, 50 agents, 30 local days; outcomes and dispositions in
realistic shares) and one campaign's leads with their customers, then times, through the CRM
services (the code the API runs): the report per campaign, per agent and per day over 30 days
and over 1 day, the regulatory abandon rate of every campaign over 30 days, and the campaign's
list penetration. Prints a table (p50 / max over the repeats, ms) and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from crm.db.engine import create_all, make_engine, metadata  # noqa: E402
from crm.db.models import Call, Customer  # noqa: E402
from crm.db.models_ops import Campaign, Lead, User  # noqa: E402
from crm.service import CrmService  # noqa: E402
from crm.services.reports import GroupBy, ReportFilter  # noqa: E402
from crm.settings import CrmSettings  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402

OUTCOMES = (("answered", 45), ("no_answer", 25), ("busy", 8), ("machine", 12), ("abandoned", 2),
            ("failed", 6), ("invalid_number", 2))
DISPOSITIONS = (("sale", 10), ("callback", 20), ("not_interested", 60), ("wrong_number", 10))
ZONE = "Asia/Shanghai"


def _pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


async def _seed(engine: Any, calls: int, leads: int, now: datetime) -> uuid.UUID:
    rng = random.Random(7)
    campaigns = [{"id": uuid.uuid4(), "name": f"bench-{i}", "status": "active",
                  "window_start": "09:00", "window_end": "21:00", "max_attempts": 5}
                 for i in range(10)]
    agents = [{"id": uuid.uuid4(), "username": f"bench-agent-{i}", "display_name": f"A{i}",
               "role": "agent", "active": True} for i in range(50)]
    async with engine.begin() as conn:
        await conn.execute(sa.insert(Campaign), campaigns)
        await conn.execute(sa.insert(User), agents)
        rows = []
        for n in range(calls):
            at = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
            outcome = _pick(rng, OUTCOMES)
            human = outcome == "answered"
            rows.append({
                "call_id": f"b{n}", "campaign_id": rng.choice(campaigns)["id"],
                "agent_id": rng.choice(agents)["id"] if human else None, "state": "ended",
                "originated_at": at, "answered_at": at if human else None,
                "bridged_at": at if human else None, "ended_at": at + timedelta(seconds=90),
                "outcome": outcome, "talk_seconds": rng.uniform(20, 300) if human else None,
                "wrap_seconds": rng.uniform(5, 60) if human else None,
                "disposition": _pick(rng, DISPOSITIONS) if human else None,
            })
            if len(rows) == 5000:
                await conn.execute(sa.insert(Call), rows)
                rows.clear()
        if rows:
            await conn.execute(sa.insert(Call), rows)
        target = campaigns[0]["id"]
        customers, lead_rows = [], []
        for n in range(leads):
            cid = uuid.uuid4()
            customers.append({"id": cid, "name": f"客户{n}", "name_key": f"kehu{n}"})
            attempts = rng.choice((0, 0, 1, 2, 5))
            lead_rows.append({
                "id": uuid.uuid4(), "campaign_id": target, "customer_id": cid,
                "phone_e164": f"+86138{n:08d}", "attempts": attempts,
                "status": "exhausted" if attempts == 5 else rng.choice(("new", "retry", "done")),
                "next_attempt_at": now + timedelta(hours=1) if rng.random() < 0.2 else None,
                "outcome_counts": {}})
            if len(customers) == 5000:
                await conn.execute(sa.insert(Customer), customers)
                await conn.execute(sa.insert(Lead), lead_rows)
                customers.clear()
                lead_rows.clear()
        if customers:
            await conn.execute(sa.insert(Customer), customers)
            await conn.execute(sa.insert(Lead), lead_rows)
        if engine.dialect.name == "sqlite":
            await conn.execute(sa.text("ANALYZE"))
        else:
            await conn.execute(sa.text("ANALYZE calls"))
            await conn.execute(sa.text("ANALYZE leads"))
    return target


async def _time(fn: Any, repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


async def run(url: str, calls: int, leads: int, repeats: int) -> dict[str, Any]:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await create_all(engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    target = await _seed(engine, calls, leads, now)
    seeded_s = time.perf_counter() - started
    service = CrmService(CrmSettings(database_url=url, timezone=ZONE), engine)
    today = now.date()
    month = ReportFilter(today - timedelta(days=30), today)
    day = ReportFilter(today, today)
    ids = [c for c, in (await _rows(engine, sa.select(Campaign.id)))]
    figures: dict[str, Any] = {}
    for group in GroupBy:
        figures[f"report_{group.value}_30d"] = await _time(
            lambda g=group: service.reports.report(g, month), repeats)
        figures[f"report_{group.value}_1d"] = await _time(
            lambda g=group: service.reports.report(g, day), repeats)
    figures["abandon_rates_30d"] = await _time(
        lambda: service.reports.abandon_rates(ids, now - timedelta(days=30)), repeats)
    figures["penetration"] = await _time(lambda: service.lists.penetration(target), repeats)
    await engine.dispose()
    return {"backend": sa.make_url(url).get_backend_name(), "calls": calls, "leads": leads,
            "repeats": repeats, "seed_s": round(seeded_s, 1), "figures": figures,
            "date": str(date.today()), "load_average_1m": round(os.getloadavg()[0], 1),
            "cpus": os.cpu_count()}


async def _rows(engine: Any, stmt: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(stmt)).all())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 000 calls, 20 000 leads")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    calls, leads, repeats = (100_000, 20_000, 5) if args.quick else (1_000_000, 100_000, 5)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        result, lag = asyncio.run(with_loop_lag(run(url, calls, leads, repeats)))
        result["event_loop_lag"] = lag
    print(f"\nreports on {result['backend']}: {calls} calls, {leads} leads "
          f"(seeded in {result['seed_s']} s); {repeats} runs each; "
          f"load average {result['load_average_1m']} on {result['cpus']} CPUs")
    print(f"{'query':<26}{'p50 ms':>10}{'max ms':>10}")
    for name, f in result["figures"].items():
        print(f"{name:<26}{f['p50_ms']:>10}{f['max_ms']:>10}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
