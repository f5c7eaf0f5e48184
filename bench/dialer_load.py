"""Dialer load on the sandbox Asterisk: N concurrent calls, CPU and bridging latency.

    python bench/dialer_load.py [--quick] [--levels 10,20,30,40] [--json PATH]

For each N, N simulated agents (Local/{ext}@sim-agent legs: they answer at once
and stay) log in to a progressive campaign of 2·N sim-pstn humans, so about N
calls run at once. Printed side by side, from the same run: the controller's CPU
seconds (this process) and Asterisk's (from /proc), per call; and the latency
from the customer's StasisStart carrying the AMD verdict to the customer being
in the agent's bridge (ChannelEnteredBridge), p50/p99, as the controller sees it.

The limit reported is the largest N at which every dialed call was bridged (no call lost
or abandoned), at least 80 % of N calls ran at once, and the p99 latency stayed under
``--p99-limit-ms`` (500 ms); the machine's load average is printed beside it, since the two
cores are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ari_app import sandbox  # noqa: E402
from ari_app.adapters.crm_local import LocalCrm  # noqa: E402
from ari_app.ami import AmiClient, AmiConfig  # noqa: E402
from ari_app.ari import AriClient, AriConfig, AriEvent, AriEventStream, EventRouter  # noqa: E402
from ari_app.dialer.bus import EventBus  # noqa: E402
from ari_app.dialer.engine import Dialer  # noqa: E402
from ari_app.dialer.model import CampaignConfig, DialMode  # noqa: E402
from ari_app.dialer.store import DialerStore  # noqa: E402
from crm.db.engine import create_all, make_engine  # noqa: E402
from crm.service import CrmService  # noqa: E402
from crm.settings import CrmSettings  # noqa: E402
from web.metrics.loop_lag import with_loop_lag  # noqa: E402


class WallClock:
    def now(self) -> float:
        return time.time()


def asterisk_cpu(box: sandbox.Sandbox) -> float:
    pid = sandbox.asterisk_pid(box)
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Latency:
    """StasisStart(amd) → ChannelEnteredBridge per customer channel."""

    def __init__(self) -> None:
        self.verdict: dict[str, float] = {}
        self.samples: list[float] = []

    async def __call__(self, event: AriEvent) -> None:
        cid = event.channel_id or ""
        if not cid.startswith("call-"):
            return
        if event.type == "StasisStart" and event.args[:1] == ("amd",):
            self.verdict[cid] = event.received_at
        elif event.type == "ChannelEnteredBridge" and cid in self.verdict:
            self.samples.append((event.received_at - self.verdict.pop(cid)) * 1000)


async def run_level(n: int, work: Path, box: sandbox.Sandbox) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{work / f'crm-{n}.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    crm = CrmService(CrmSettings(database_url=url, recordings_dir=work / "rec",
                                 password_scrypt_n=16), engine)
    await crm.reference.seed_dispositions()
    campaign = await crm.campaigns.create({"name": f"load {n}", "window_start": "00:00",
                                           "window_end": "23:59"})
    rows = [{"phone": f"+86137{n:02d}{i:03d}000", "name": f"load {i}"} for i in range(2 * n)]
    async for _ in crm.import_leads(campaign.id, rows):
        pass
    config = AriConfig(app=f"dialcrm-bench-{os.getpid()}")
    ari = AriClient(config)
    store = DialerStore(work / f"dialer-{n}.sqlite3")
    await store.open()
    local = LocalCrm(crm)
    bus = EventBus()
    dialer = Dialer(ari, store, local, local, bus, WallClock(), worker=f"bench-{n}",
                    agent_endpoint="Local/{extension}@sim-agent/n")
    router = EventRouter()
    latency = Latency()
    router.on_any(latency)
    dialer.register(router)
    ami = AmiClient(AmiConfig())
    dialer.register_ami(ami)  # the CDR cross-check runs under load too
    await ami.connect()
    stream = AriEventStream(config, ari.session, on_event=router,
                            on_connected=dialer.on_connected)
    task = asyncio.create_task(stream.run())
    await stream.wait_connected()
    await dialer.start()
    cid = str(campaign.id)
    await dialer.start_campaign(CampaignConfig(cid, mode=DialMode.PROGRESSIVE, record=False,
                                               wrap_up_limit_s=0.5, max_lines=2 * n))
    for i in range(n):
        await dialer.login(f"agent{i}", str(9000 + i), cid)
    cpu0, ast0, wall0 = time.process_time(), asterisk_cpu(box), time.monotonic()
    peak = 0
    while dialer.calls.counters[cid].dials < 2 * n or dialer.calls.in_flight(cid):
        peak = max(peak, len(dialer.calls.in_flight(cid)))
        await asyncio.sleep(0.2)
        if time.monotonic() - wall0 > 240:
            break
    cpu, ast, wall = time.process_time() - cpu0, asterisk_cpu(box) - ast0, time.monotonic() - wall0
    settle = time.monotonic()
    # the last calls' CDRs (the cross-check settles 2 s after each call)
    while time.monotonic() - settle < 15:  # noqa: ASYNC110 - a bench polls a counter
        if dialer.cdr.stats.checked >= dialer.calls.counters[cid].dials:
            break
        await asyncio.sleep(0.2)
    cdr = dialer.cdr.snapshot()
    counters = dialer.calls.counters[cid]
    calls = counters.dials
    for i in range(n):
        try:
            await dialer.logout(f"agent{i}")
        except Exception:  # noqa: BLE001 - best effort clean-up
            pass
    await dialer.stop()
    await ami.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await store.close()
    await ari.close()
    await crm.close()
    return {
        "agents": n, "calls": calls, "peak_concurrent_calls": peak, "wall_s": round(wall, 1),
        "controller_cpu_s": round(cpu, 3), "asterisk_cpu_s": round(ast, 3),
        "controller_cpu_ms_per_call": round(1000 * cpu / max(calls, 1), 2),
        "asterisk_cpu_ms_per_call": round(1000 * ast / max(calls, 1), 2),
        "controller_to_asterisk_cpu": round(cpu / ast, 3) if ast else None,
        "bridge_latency_ms_p50": round(pct(latency.samples, 0.5), 2),
        "bridge_latency_ms_p99": round(pct(latency.samples, 0.99), 2),
        "bridge_latency_ms_mean": round(statistics.fmean(latency.samples), 2)
        if latency.samples else None,
        "bridged": len(latency.samples),
        "abandoned": counters.abandons,
        "machines": counters.machines,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cdr_checked": cdr.checked, "cdr_mismatched": cdr.mismatched,
        "cdr_max_abs_delta_s": round(cdr.max_abs_delta_s, 2),
    }


async def main_async(levels: list[int]) -> list[dict[str, Any]]:
    box = sandbox.Sandbox.from_env()
    if sandbox.ari_info(box) is None:  # a running sandbox is used as it is (no reload)
        sandbox.up(box)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in levels:
            rows.append(await run_level(n, Path(tmp), box))
            print_row(rows[-1])
    return rows


HEADER = ("agents", "calls", "bridged", "peak_concurrent_calls", "controller_cpu_ms_per_call",
          "asterisk_cpu_ms_per_call", "controller_to_asterisk_cpu", "bridge_latency_ms_p50",
          "bridge_latency_ms_p99", "cdr_mismatched", "load_avg_1m")


def within_limit(row: dict[str, Any], p99_limit_ms: float) -> bool:
    n = row["agents"]
    return (row["calls"] >= 2 * n and row["bridged"] >= row["calls"] and not row["abandoned"]
            and row["peak_concurrent_calls"] >= 0.8 * n
            and row["bridge_latency_ms_p99"] <= p99_limit_ms)


def print_row(row: dict[str, Any]) -> None:
    print(" | ".join(f"{str(row.get(h)):>12}" for h in HEADER), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in (5, 10): under 2 minutes")
    parser.add_argument("--levels", help="comma-separated N (default 5,10,20,30,40)")
    parser.add_argument("--p99-limit-ms", type=float, default=500.0)
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    if args.levels:
        levels = [int(x) for x in args.levels.split(",")]
    else:
        levels = [5, 10] if args.quick else [5, 10, 20, 30, 40]
    print(" | ".join(f"{h:>12}" for h in HEADER))
    rows, lag = asyncio.run(with_loop_lag(main_async(levels)))
    ok = [r["agents"] for r in rows if within_limit(r, args.p99_limit_ms)]
    limit = max(ok) if ok else None
    print(f"limit: N = {limit} (every call bridged, >= 80 % of N at once, "
          f"p99 <= {args.p99_limit_ms:.0f} ms) on {os.cpu_count()} cores")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "limit_agents": limit,
                                         "p99_limit_ms": args.p99_limit_ms,
                                         "cores": os.cpu_count(),
                                         "event_loop_lag": lag}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
