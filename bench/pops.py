"""Screen-pop latency and customer-read throughput, through the real path.

    python bench/pops.py --quick --json bench/results/pops.json
    python bench/pops.py --json bench/results/pops_full.json      # more rounds, longer reads
    python bench/pops.py --quick --profile bench/results/profiles  # + pyinstrument top frames

Each backend in turn: SQLite, and PostgreSQL when ``CRM_TEST_DATABASE_URL`` is set (or
``--pg URL``; the bench uses its own database ``<name>_bench`` on that server, created and
emptied here). ``--backends sqlite`` or ``pg`` picks one.

A server process runs the CRM app with 100 000 customers (bulk-inserted with executemany, not
the import path; a third tagged, a fifth with an open task; then ANALYZE), the pop hub,
``/ws/agent``, the agent page and the dialer-bus → hub bridge.
The bench process opens 100 agent WebSockets and one headless Chromium agent page, then asks
the server to publish ``ScreenPop`` events on the dialer's bus (the trigger, stamped with
``time.time()`` at publish). Each pop goes bus → bridge (customer summary) → hub → socket.
Latencies are receipt time minus publish time on the same machine clock; the browser's are
taken with ``performance.timeOrigin + performance.now()`` in the page, at WebSocket receipt and
right after the DOM update. Two load shapes: *steady* (one pop per agent spread over each
round) and *burst* (every agent popped at once), each run twice on customers of their own: as
the dialer runs (summaries prefetched when the hopper claims the leads, one round ahead) and
cold (``*_cold``: every pop reads the database). Then ``GET /api/customers/{id}`` on random
customers with 8 concurrent clients: requests/s and latency percentiles, beside
``GET /api/auth/me`` (a trivial authenticated read) in the same run, and their ratio.
The server's event-loop lag (every 5 ms) is measured in each window (``event_loop_lag``); with
``--profile DIR``, pyinstrument's top frames of each window land in ``DIR/<backend>-<window>.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))  # the server side

import aiohttp  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from pops_server import serve, settings_for  # noqa: E402  (bench/lib/)

from crm.db.engine import create_all, make_engine  # noqa: E402
from crm.db.models import metadata  # noqa: E402
from crm.domain.enums import Role  # noqa: E402
from crm.domain.names import name_key  # noqa: E402
from crm.service import CrmService  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静强磊洋艳勇军杰娟涛明超秀霞平刚"
AGENTS = 100
# One pop per agent per round: 50 pops/s, some 15 times a busy 100-seat predictive floor
# (a pop per agent every 30 s). The burst shape pops every agent at the same instant.
ROUND_S = 2.0
PASSWORD = "bench-pass-1"


def say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ database --
async def bench_database(url: str) -> str:
    """``url``'s server, database ``<name>_bench`` (created if missing): never the tests'."""
    parsed = sa.make_url(url)
    name = f"{parsed.database}_bench"
    admin = make_engine(url)
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            found = await conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                      {"n": name})
            if not found:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


async def prepare(work: Path, database_url: str, customers: int) -> dict[str, Any]:
    settings = settings_for(work, database_url)
    engine = make_engine(settings.database_url)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    await create_all(engine)
    started = time.perf_counter()
    ids = await bulk_customers(engine, customers)
    insert_s = time.perf_counter() - started
    service = CrmService(settings, engine)
    tokens = []
    for i in range(AGENTS):
        user = await service.auth.create_user(f"bench-agent-{i:03d}", Role.AGENT, password=PASSWORD)
        tokens.append((await service.auth.issue_token(user.id, "bench")).token)
    await service.auth.create_user("bench-browser", Role.AGENT, password=PASSWORD)
    reader = await service.auth.create_user("bench-reader", Role.DIALER, password=PASSWORD)
    reader_token = (await service.auth.issue_token(reader.id, "bench")).token
    await service.close()
    return {"ids": ids, "tokens": tokens, "reader": reader_token, "insert_s": insert_s}


async def bulk_customers(engine: Any, n: int, chunk: int = 10_000) -> list[str]:
    """Customers with one mobile number each; every 3rd has a tag, every 5th an open task."""
    rng = random.Random(7)
    tables = metadata.tables
    ids: list[str] = []
    async with engine.begin() as conn:
        await conn.execute(sa.insert(tables["tags"]), TAGS)
        for start in range(0, n, chunk):
            rows = _rows(range(start, min(n, start + chunk)), rng)
            for table, values in rows.items():  # executemany, one statement per table
                if values:
                    await conn.execute(sa.insert(tables[table]), values)
            ids.extend(str(c["id"]) for c in rows["customers"])
        # Planner statistics, as after any bulk load: without them SQLite answers the summary's
        # open-tasks query through ix_tasks_status_due, scanning every open task (~3 ms here).
        await conn.exec_driver_sql("ANALYZE")
    return ids


TAGS = [
    {"id": 1, "name": "VIP", "name_key": "vip"},
    {"id": 2, "name": "价格敏感", "name_key": "价格敏感"},
    {"id": 3, "name": "回访", "name_key": "回访"},
]


def _rows(numbers: range, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    rows: dict[str, list[dict[str, Any]]] = {
        "customers": [],
        "phone_numbers": [],
        "customer_tags": [],
        "tasks": [],
    }
    for i in numbers:
        cid = uuid.uuid4()
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        rows["customers"].append(
            {
                "id": cid,
                "name": name,
                "name_key": name_key(name),
                "created_at": now,
                "updated_at": now,
            }
        )
        rows["phone_numbers"].append(
            {
                "id": uuid.uuid4(),
                "customer_id": cid,
                "e164": f"+86139{i:08d}",
                "number_type": "mobile",
                "raw": f"139{i:08d}",
                "created_at": now,
            }
        )
        if i % 3 == 0:
            rows["customer_tags"].append({"customer_id": cid, "tag_id": 1 + i % 9 // 3})
        if i % 5 == 0:
            rows["tasks"].append(
                {
                    "id": uuid.uuid4(),
                    "customer_id": cid,
                    "title": "发送报价",
                    "priority": 1,
                    "status": "open",
                    "origin": "rule",
                    "due_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows


# ------------------------------------------------------------------------------- clients --
class Listener:
    """The 100 agent sockets: pop latency (receipt − publish) and server summary time."""

    def __init__(self) -> None:
        self.latency_ms: list[float] = []
        self.summary_ms: list[float] = []
        self.changed = asyncio.Event()

    async def listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            received = time.time()
            data = json.loads(msg.data)
            if data["type"] == "pop" and data["lead_id"] == "lead":
                self.latency_ms.append((received - data["ts"]) * 1000)
                self.summary_ms.append(data["summary_ms"])
                self.changed.set()


async def open_browser(playwright: Any, base: str) -> tuple[Any, Any]:
    browser = await playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
    )
    # The bench's wait_for_function predicates are evaluated strings: the pages' CSP (no
    # unsafe-eval) would refuse them. Bypassing it changes nothing the pop path does.
    context = await browser.new_context(bypass_csp=True)
    await context.request.post(
        f"{base}/api/auth/login", data={"username": "bench-browser", "password": PASSWORD}
    )
    page = await context.new_page()
    await page.goto(f"{base}/agent")
    await page.wait_for_selector("[data-testid=conn][data-state=live]")
    return browser, page


async def run_shape(
    session: aiohttp.ClientSession,
    base: str,
    listener: Listener,
    page: Any,
    ids: list[str],
    rounds: int,
    burst: bool,
    prefetch: bool,
) -> dict[str, Any]:
    listener.latency_ms.clear()
    listener.summary_ms.clear()
    await page.evaluate("window.dialcrmPops.length = 0")
    agents = [f"bench-agent-{i:03d}" for i in range(AGENTS)] + ["bench-browser"]
    body = {
        "agents": agents,
        "customers": ids[: 2 * rounds * len(agents)],
        "rounds": rounds,
        "round_s": ROUND_S,
        "burst": burst,
        "prefetch": prefetch,
    }
    async with session.post(f"{base}/bench/fire", json=body) as resp:
        assert resp.status == 202, await resp.text()
    want = rounds * AGENTS
    deadline = time.monotonic() + rounds * ROUND_S + 60  # slow when profiled on a busy host
    while len(listener.latency_ms) < want and time.monotonic() < deadline:
        listener.changed.clear()
        try:
            await asyncio.wait_for(listener.changed.wait(), timeout=1)
        except TimeoutError:
            continue
    await page.wait_for_function(f"window.dialcrmPops.length >= {rounds}", timeout=60_000)
    await page.wait_for_function("window.dialcrmPops.every(p => p.painted)", timeout=10_000)
    pops = await page.evaluate("window.dialcrmPops")
    return {
        "ws_receipt": stats(listener.latency_ms, want),
        "browser_receipt": stats([p["received"] - p["ts"] * 1000 for p in pops], rounds),
        "browser_dom": stats([p["rendered"] - p["ts"] * 1000 for p in pops], rounds),
        "browser_paint": stats([p["painted"] - p["ts"] * 1000 for p in pops], rounds),
        "server_summary": stats(listener.summary_ms, want),
        "beyond_summary": stats(
            [t - q for t, q in zip(listener.latency_ms, listener.summary_ms, strict=True)], want
        ),
    }


async def read_endpoint(
    base: str, token: str, paths: list[str], seconds: float, concurrency: int = 8
) -> dict[str, Any]:
    """``concurrency`` clients reading random ``paths`` back to back for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(5)
    end = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.monotonic() < end:
            started = time.perf_counter()
            async with session.get(f"{base}{rng.choice(paths)}") as resp:
                await resp.read()
                errors += resp.status != 200
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    async with aiohttp.ClientSession(headers=headers) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        **stats(latencies, len(latencies)),
        "rps": round(len(latencies) / elapsed, 1),
        "errors": errors,
        "concurrency": concurrency,
        "seconds": round(elapsed, 1),
    }


async def window(session: aiohttp.ClientSession, base: str, name: str, work: Any) -> Any:
    """Run ``work`` inside a server-side measurement window; returns (result, server figures)."""
    async with session.post(f"{base}/bench/begin", json={"name": name}) as resp:
        assert resp.status == 200, await resp.text()
    result = await work
    async with session.post(f"{base}/bench/end", json={"name": name}) as resp:
        assert resp.status == 200, await resp.text()
        return result, await resp.json()


async def run_clients(base: str, prep: dict[str, Any], quick: bool) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    rounds = 6 if quick else 40
    listener = Listener()
    sockets_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    async with (
        sockets_session,
        aiohttp.ClientSession() as session,
        async_playwright() as playwright,
    ):
        sockets = [
            await sockets_session.ws_connect(
                f"{base}/ws/agent", headers={"Authorization": f"Bearer {t}"}
            )
            for t in prep["tokens"]
        ]
        readers = [asyncio.create_task(listener.listen(ws)) for ws in sockets]
        say(f"{len(sockets)} agent sockets open; starting Chromium")
        browser, page = await open_browser(playwright, base)
        result = {}
        shapes = (("steady", False, True), ("burst", True, True),
                  ("steady_cold", False, False), ("burst_cold", True, False))
        part = len(prep["ids"]) // len(shapes)  # every shape pops customers of its own
        for n, (shape, burst, prefetch) in enumerate(shapes):
            say(f"{shape} pops: {rounds} rounds x {AGENTS + 1} agents, one round per {ROUND_S} s"
                f"{', summaries prefetched at claim time' if prefetch else ', no prefetch'}")
            ids = prep["ids"][n * part:(n + 1) * part]
            figures, server = await window(session, base, f"{prep['backend']}-{shape}", run_shape(
                session, base, listener, page, ids, rounds, burst, prefetch))
            result[shape] = {**figures, **server}
        await browser.close()
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
        seconds = 5 if quick else 30
        reads: dict[str, Any] = {}
        for key, paths in (("customers_get", [f"/api/customers/{i}" for i in prep["ids"]]),
                           ("auth_me", ["/api/auth/me"])):
            say(f"GET {paths[0] if key == 'auth_me' else '/api/customers/{id}'}, 8 clients")
            figures, server = await window(session, base, f"{prep['backend']}-{key}",
                                           read_endpoint(base, prep["reader"], paths, seconds))
            reads[key] = {**figures, **server}
    reads["customers_get_vs_auth_me"] = round(
        reads["customers_get"]["rps"] / max(reads["auth_me"]["rps"], 0.1), 3)
    return {"pops": result, **reads, "rounds": rounds}


# ------------------------------------------------------------------------------- figures --
def stats(values: list[float], expected: int) -> dict[str, Any]:
    if len(values) < 2:
        return {"n": len(values), "expected": expected}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "n": len(values),
        "expected": expected,
        "p50": round(q[49], 2),
        "p95": round(q[94], 2),
        "p99": round(q[98], 2),
        "max": round(max(values), 2),
    }


def print_table(backend: str, results: dict[str, Any]) -> None:
    print(
        f"\n[{backend}]\n{'shape':<11} {'metric (ms from ScreenPop publish)':<34} {'n':>5} "
        f"{'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    )
    labels = {
        "ws_receipt": "100 WebSockets: receipt",
        "browser_receipt": "browser: ws receipt",
        "browser_dom": "browser: DOM updated",
        "browser_paint": "browser: next frame",
        "server_summary": "server: customer summary (query)",
        "beyond_summary": "receipt minus summary (bus+hub+ws)",
        "event_loop_lag": "server: event-loop lag (every 5 ms)",
    }
    for shape, metrics in results["pops"].items():
        for key, label in labels.items():
            m = metrics[key]
            print(
                f"{shape:<11} {label:<34} {m['n']:>5} {m.get('p50', 0):>7.1f} "
                f"{m.get('p95', 0):>7.1f} {m.get('p99', 0):>7.1f} {m.get('max', 0):>7.1f}"
            )
        bridge = metrics.get("bridge", {})
        gcs = metrics.get("gc", {})
        print(f"{shape:<11} bridge: cache hits {bridge.get('cache_hits', 0)}, misses "
              f"{bridge.get('cache_misses', 0)}, prefetched {bridge.get('prefetched', 0)}, "
              f"refreshed {bridge.get('refreshed', 0)}; gc: {gcs.get('collections', 0)} "
              f"collections, {gcs.get('gen2', 0)} full, longest {gcs.get('max_ms', 0)} ms")
    for key, path in (("customers_get", "/api/customers/{id}"), ("auth_me", "/api/auth/me")):
        r = results[key]
        lag = r["event_loop_lag"]
        print(
            f"GET {path:<20} {r['concurrency']} clients, {r['seconds']} s: {r['rps']:>7.1f} req/s,"
            f" p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, p99 {r['p99']:.1f} ms, errors "
            f"{r['errors']}; loop lag p99 {lag.get('p99', 0):.1f} ms"
        )
    print(f"customer read / auth/me throughput: {results['customers_get_vs_auth_me']:.2f}")
    print(f"bulk insert of {results['customers']} customers + numbers: {results['insert_s']:.1f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_backend(backend: str, url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pops-") as tmp:
        database_url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'crm.sqlite3'}"
        if url is not None:
            database_url = asyncio.run(bench_database(url))
        say(f"[{backend}] inserting {args.customers} customers, creating {AGENTS + 2} users")
        prep = asyncio.run(prepare(Path(tmp), database_url, args.customers))
        prep["backend"] = backend
        say(f"[{backend}] starting the server process")
        port = free_port()
        spawn = multiprocessing.get_context("spawn")
        ready = spawn.Event()
        profile = str(args.profile.resolve()) if args.profile else None
        server = spawn.Process(target=serve, args=(tmp, database_url, port, ready, profile),
                               daemon=True)
        server.start()
        try:
            if not ready.wait(60):
                raise RuntimeError("the bench server did not start")
            results, client_lag = asyncio.run(with_loop_lag(
                run_clients(f"http://127.0.0.1:{port}", prep, args.quick)))
        finally:
            server.terminate()
            server.join(10)
    results.update(customers=args.customers, insert_s=round(prep["insert_s"], 2),
                   client_event_loop_lag=client_lag)
    print_table(backend, results)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under 2 minutes a backend")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("CRM_TEST_DATABASE_URL"),
                        help="a PostgreSQL URL (default: $CRM_TEST_DATABASE_URL)")
    parser.add_argument("--backends", default="sqlite,pg", help="sqlite, pg or both")
    parser.add_argument("--profile", type=Path, help="pyinstrument top frames per window here")
    args = parser.parse_args()
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews latencies
    wanted = args.backends.split(",")
    backends: list[tuple[str, str | None]] = [("sqlite", None)] if "sqlite" in wanted else []
    if "pg" in wanted and args.pg:
        backends.append(("postgresql", args.pg))
    elif "pg" in wanted:
        say("no PostgreSQL (CRM_TEST_DATABASE_URL or --pg): SQLite only")
    results: dict[str, Any] = {
        "backends": {name: run_backend(name, url, args) for name, url in backends},
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "agents": AGENTS,
        "browsers": 1,
        "quick": args.quick,
    }
    # Every bench's JSON carries an event_loop_lag: here the server's, worst window per backend.
    results["event_loop_lag"] = {
        name: max((w["event_loop_lag"] for w in [*r["pops"].values(), r["customers_get"]]),
                  key=lambda lag: lag.get("p99", 0))
        for name, r in results["backends"].items()
    }
    print(f"machine: {results['cpus']} CPUs, load average {load_before} before the run, "
          f"{results['load_after']} after")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
