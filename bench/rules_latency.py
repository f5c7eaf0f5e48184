"""Trigger → task latency on the CRM side of the live speech path.

    python bench/rules_latency.py --quick --json bench/results/rules_latency.json
    python bench/rules_latency.py --json bench/results/rules_latency_full.json

A server process runs the CRM app (SQLite in a temporary directory, the default workflow rules,
the pop hub and ``/ws/agent``). The bench process holds the agent's WebSocket open and posts
transcript segments the way the dialer does (``POST /api/calls/{id}/transcript``, dialer
token), each on its own bridged call so the once-per-call rules fire every time. The segment
("价格太贵了，下周再联系" / "The price is too expensive, call me next week") fires three rules:
a quote task, a dated callback task and the live discount suggestion.

Measured per segment, on one machine clock (``time.perf_counter`` in the bench process):
``committed`` = the POST answered (the segment, its analysis, the two tasks and the audited
firings are committed before the response), ``suggestion`` = the suggestion message arrived on
the agent's socket, ``transcript`` = the transcript line arrived. Two shapes: *sequential* (one
segment at a time) and *concurrent* (8 posters on 8 calls at once). After the run the bench
checks that every task is in the database. Target (issue 6): trigger → task ≤ 2 s at p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from crm.db.engine import create_all, make_engine  # noqa: E402
from crm.db.models import Task  # noqa: E402
from crm.domain.enums import Role  # noqa: E402
from crm.service import CrmService  # noqa: E402
from crm.settings import CrmSettings  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402

TEXTS = ("价格太贵了，下周再联系", "The price is too expensive for us, call me next week.")
CONCURRENCY = 8


def _log(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(db: Path, tmp: Path) -> CrmSettings:
    return CrmSettings(database_url=f"sqlite+aiosqlite:///{db}", recordings_dir=tmp / "rec",
                       password_scrypt_n=16, auto_migrate=False)


def _serve(db: str, tmp: str, port: int) -> None:
    from aiohttp import web

    from crm.app import create_crm_app
    from crm.pops import install_pops

    app = create_crm_app(_settings(Path(db), Path(tmp)))
    install_pops(app)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


async def _prepare(db: Path, tmp: Path, calls: int) -> dict[str, str]:
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await create_all(engine)
    await engine.dispose()
    svc = CrmService.open(_settings(db, tmp))
    try:
        await svc.rules.seed_defaults_if_empty()
        tokens = {}
        for name, role in (("agent1006", Role.AGENT), ("dialer", Role.DIALER)):
            user = await svc.auth.create_user(name, role, password=None)
            tokens[name] = (await svc.auth.issue_token(user.id, "bench")).token
        for i in range(calls):
            await svc.ingest_call_event({"event_id": f"b-{i}", "call_id": f"bench-{i}",
                                         "type": "bridged", "agent_id": "agent1006"})
        return tokens
    finally:
        await svc.close()


async def _wait_up(session: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/api/openapi.json") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the CRM server did not come up")


class Socket:
    """The agent's socket: records when each call's messages arrive."""

    def __init__(self) -> None:
        self.arrived: dict[tuple[str, str], float] = {}
        self.waiters: dict[tuple[str, str], asyncio.Future[float]] = {}

    def expect(self, call_id: str, kind: str) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[(call_id, kind)] = fut
        return fut

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            now = time.perf_counter()
            data = json.loads(msg.data)
            key = (data.get("call_id", ""), data.get("type", ""))
            fut = self.waiters.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(now)


async def _one(session: aiohttp.ClientSession, base: str, dialer: str, sock: Socket,
               i: int) -> dict[str, float]:
    call = f"bench-{i}"
    got_suggestion = sock.expect(call, "suggestion")
    got_line = sock.expect(call, "transcript")
    seg = {"segment_id": "s1", "speaker": "customer", "start_s": 3.0, "end_s": 6.5,
           "text": TEXTS[i % 2], "confidence": 0.8}
    start = time.perf_counter()
    async with session.post(f"{base}/api/calls/{call}/transcript", json=seg,
                            headers={"Authorization": f"Bearer {dialer}"}) as resp:
        body = await resp.json()
        committed = time.perf_counter()
    if resp.status != 201 or len(body["firings"]) != 3:
        raise RuntimeError(f"segment {i}: {resp.status} {body}")
    suggestion, line = await asyncio.wait_for(asyncio.gather(got_suggestion, got_line), 30)
    return {"committed": (committed - start) * 1000, "suggestion": (suggestion - start) * 1000,
            "transcript": (line - start) * 1000}


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"n": len(values), "p50": round(pct(50), 2), "p95": round(pct(95), 2),
            "p99": round(pct(99), 2), "max": round(ordered[-1], 2),
            "mean": round(statistics.fmean(values), 2)}


async def _run(base: str, tokens: dict[str, str], n: int) -> dict[str, Any]:
    sock = Socket()
    async with aiohttp.ClientSession() as session:
        await _wait_up(session, base)
        ws = await session.ws_connect(
            f"{base}/ws/agent", headers={"Authorization": f"Bearer {tokens['agent1006']}"})
        reader = asyncio.create_task(sock.read(ws))
        for i in range(5):  # warm-up (not counted): imports, caches, the first rule load
            await _one(session, base, tokens["dialer"], sock, n * 2 + i)
        seq = [await _one(session, base, tokens["dialer"], sock, i) for i in range(n)]
        conc: list[dict[str, float]] = []
        for start in range(n, 2 * n, CONCURRENCY):
            batch = range(start, min(start + CONCURRENCY, 2 * n))
            conc += await asyncio.gather(
                *(_one(session, base, tokens["dialer"], sock, i) for i in batch))
        await ws.close()
        reader.cancel()
    shapes = {"sequential": seq, f"concurrent_{CONCURRENCY}": conc}
    return {shape: {k: _stats([r[k] for r in rows]) for k in ("committed", "suggestion",
                                                                "transcript")}
            for shape, rows in shapes.items()}


async def _count_tasks(db: Path, tmp: Path) -> int:
    svc = CrmService.open(_settings(db, tmp))
    try:
        async with svc.engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(Task)) or 0)
    finally:
        await svc.close()


def print_table(results: dict[str, Any]) -> None:
    print(f"trigger -> task latency, {results['segments']} segments per shape (ms)")
    print(f"{'shape':<14} {'measure':<11} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for shape, measures in results["latency_ms"].items():
        for name, s in measures.items():
            print(f"{shape:<14} {name:<11} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['p99']:>8.1f} "
                  f"{s['max']:>8.1f}")
    print(f"tasks in the database: {results['tasks_found']} (expected "
          f"{results['tasks_expected']}); target p95 <= 2000 ms: "
          f"{'met' if results['target_met'] else 'NOT met'}")
    print(f"machine: {results['cpus']} CPUs, load average before the run {results['load_before']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under 2 minutes")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--segments", type=int, help="segments per shape")
    args = parser.parse_args()
    n = args.segments or (200 if args.quick else 1000)
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="dialcrm-rules-bench-") as tmp_s:
        tmp = Path(tmp_s)
        db = tmp / "crm.sqlite3"
        _log(f"preparing {2 * n + 5} bridged calls")
        tokens = asyncio.run(_prepare(db, tmp, 2 * n + 5))
        port = _free_port()
        ctx = multiprocessing.get_context("spawn")
        server = ctx.Process(target=_serve, args=(str(db), str(tmp), port), daemon=True)
        server.start()
        try:
            _log(f"server pid {server.pid} on port {port}; posting segments")
            latency, lag = asyncio.run(with_loop_lag(_run(f"http://127.0.0.1:{port}", tokens, n)))
        finally:
            server.terminate()
            server.join(10)
        found = asyncio.run(_count_tasks(db, tmp))
    expected = 2 * (2 * n + 5)  # a quote task and a callback task per segment
    p95 = max(s["committed"]["p95"] for s in latency.values())
    results = {"bench": "rules_latency", "quick": args.quick, "segments": n,
               "latency_ms": latency, "tasks_expected": expected, "tasks_found": found,
               "target_p95_ms": 2000, "target_met": p95 <= 2000 and found == expected,
               "cpus": os.cpu_count(), "load_before": load, "event_loop_lag": lag,
               "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if found == expected else 1


if __name__ == "__main__":
    sys.exit(main())
