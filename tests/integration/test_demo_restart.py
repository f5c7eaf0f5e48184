"""``dialcrm demo`` killed with SIGKILL mid-call, then started again (issue 17, 17 and 18).

The demo runs as its own process (its CRM on SQLite, its dialer state and SIPp agent phones
1001-1003) under a Stasis app of its own. Once one of its calls is bridged to a simulated agent,
our test app subscribes to that customer channel (its ``ChannelDestroyed`` carries Asterisk's
time) and the demo gets SIGKILL; the call lives on in Asterisk until the simulated customer
hangs up, while nobody runs the demo. The demo started again on the same data must adopt its
agents (their SIPp phones survived as orphans), close the call with Asterisk's end time (within
1 s) and say it was reconciled, and its simulated agents must go on: the adopted agent's
wrap-up of the reconciled call is disposed, and so is a call dialed after the restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ari_app.ari import AriClient, AriConfig
from ari_app.errors import TelephonyError
from ari_app.testing import EventLog, wait_until
from web.demo import DEMO_AGENTS, PHONES_FILE, PhoneFile, sipp_running, stop_pid

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DemoProcess:
    """``python -m web.main demo`` on one data directory; one process at a time."""

    def __init__(self, work: Path, app: str) -> None:
        self.work = work
        self.app = app
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        env = {**os.environ, "DIALCRM_DATA_DIR": str(self.work),
               "DIALCRM_DATABASE_URL": f"sqlite+aiosqlite:///{self.work / 'crm.sqlite3'}",
               "DIALCRM_ARI_APP": self.app, "DIALCRM_ASR_START": "off",
               "DIALCRM_DEMO_PASSWORD": PASSWORD}
        log = open(self.work / f"demo-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "web.main", "demo", "--port", str(self.port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"demo exited ({self.proc.returncode}): {self.log()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self, start: int | None = None) -> str:
        path = self.work / f"demo-{start or self.starts}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Api:
    """The demo's REST API as its admin (the session survives the restart: it is in the DB)."""

    def __init__(self, demo: DemoProcess) -> None:
        self.demo = demo
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=10))

    async def get(self, path: str) -> Any | None:
        """The JSON of a GET, or None while the demo is not (yet) serving it."""
        self.demo.alive()
        try:
            async with self.http.get(self.demo.url + path) as resp:
                if resp.status == 401:
                    await self._login()
                    return None
                return await resp.json() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def _login(self) -> None:
        async with self.http.post(self.demo.url + "/api/auth/login",
                                  json={"username": "admin", "password": PASSWORD},
                                  headers={"Origin": self.demo.url}) as resp:
            await resp.read()


@pytest.fixture
def demo(ari_config: AriConfig, tmp_path: Path) -> Iterator[DemoProcess]:
    process = DemoProcess(tmp_path, f"{ari_config.app}-demo")
    yield process
    process.stop()
    for ext, pid in PhoneFile(tmp_path / PHONES_FILE).read().items():
        if sipp_running(pid, ext):
            stop_pid(pid)


@pytest.fixture
async def api(demo: DemoProcess) -> AsyncIterator[Api]:
    client = Api(demo)
    yield client
    await client.http.close()


async def _stop_and_clear(demo: DemoProcess, ari: AriClient) -> None:
    """Stop the demo, then hang up the agent legs and bridges its app held (a demo keeps them
    when it stops: a restart adopts them)."""
    state: dict[str, Any] = {}
    with contextlib.suppress(TelephonyError):
        state = dict(await ari.request("GET", f"/applications/{demo.app}") or {})
    demo.stop()
    for channel_id in state.get("channel_ids", []):
        with contextlib.suppress(TelephonyError):
            await ari.hangup(channel_id)
    for bridge_id in state.get("bridge_ids", []):
        with contextlib.suppress(TelephonyError):
            await ari.destroy_bridge(bridge_id)


def _rtp_sockets() -> list[tuple[str, int]]:
    """UDP sockets in Asterisk's RTP range (rtp.conf 10000-20000) and their bound address
    (finding 14: RTP on the configured address, not every interface)."""
    found = []
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        host_hex, port_hex = line.split()[1].split(":")
        port = int(port_hex, 16)
        if 10000 <= port <= 20000:
            host = ".".join(str(b) for b in reversed(bytes.fromhex(host_hex)))
            found.append((host, port))
    return found


def _at(raw: str) -> float:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


async def test_given_demo_killed_mid_call_when_restarted_then_agents_go_on_and_asterisk_end_kept(
    demo: DemoProcess, api: Api, ari: AriClient, events: EventLog,
) -> None:
    try:
        await _kill_and_restart(demo, api, ari, events)
    finally:
        await _stop_and_clear(demo, ari)


async def _kill_and_restart(demo: DemoProcess, api: Api, ari: AriClient,
                            events: EventLog) -> None:
    demo.start()
    watched: dict[str, Any] = {}

    async def a_call_bridged_and_watched() -> bool:
        status = await api.get("/api/dialer/status")
        if "logged in (" not in demo.log():  # all three phones started, agents logged in
            return False
        for call in (status or {}).get("calls", []):
            if call["phase"] == "connected" and call["agent_id"] in DEMO_AGENTS:
                try:  # our app gets its ChannelDestroyed, with Asterisk's time
                    await ari.subscribe_channel(call["call_id"])
                except TelephonyError:
                    continue  # ended meanwhile: wait for another
                watched.update(call)
                return True
        return False

    await wait_until(a_call_bridged_and_watched, timeout=180,
                     what="a demo call bridged to a simulated agent")
    call_id = watched["call_id"]
    rtp = _rtp_sockets()
    assert rtp and all(host == "127.0.0.1" for host, _ in rtp), f"RTP not on loopback: {rtp}"
    demo.kill9()  # mid-call: nothing flushed, no logout, no hang-up
    phones = PhoneFile(demo.work / PHONES_FILE).read()
    assert set(phones) == {"1001", "1002", "1003"}

    destroyed = await events.wait_for(
        lambda e: e.type == "ChannelDestroyed" and e.channel_id == call_id, timeout=90)
    assert destroyed.timestamp is not None
    asterisk_end = destroyed.timestamp  # the customer hung up while no demo ran

    demo.start()  # the same data, a new process
    record: dict[str, Any] = {}

    async def reconciled_and_disposed() -> bool:
        call = await api.get(f"/api/calls/{call_id}")
        if call and call["state"] == "ended" and call["disposition"]:
            record.update(call)
            return True
        return False

    await wait_until(reconciled_and_disposed, timeout=120,
                     what="the reconciled call closed and disposed by a simulated agent")
    crm_end = _at(record["ended_at"])
    asterisk_talk = asterisk_end - _at(record["bridged_at"])
    print(f"\nreconciled call {call_id}: Asterisk ended it at {asterisk_end:.3f}, "
          f"CRM {crm_end:.3f} (diff {crm_end - asterisk_end:+.3f} s); talk CRM "
          f"{record['talk_seconds']:.3f} s, Asterisk {asterisk_talk:.3f} s")
    assert record["closed_by"] == "reconcile", record
    [ended] = [e for e in record["events"] if e["type"] == "ended"]
    assert ended["payload"]["end_source"] == "asterisk", ended
    assert abs(crm_end - asterisk_end) <= 1.0
    assert abs(record["talk_seconds"] - asterisk_talk) <= 1.0

    restarted = demo.log()
    assert "3 adopted" in restarted and "demo failed" not in restarted, restarted[-3000:]

    async def a_new_call_disposed() -> bool:
        page = await api.get("/api/calls?limit=200")
        return any(c["disposition"] and c["originated_at"]
                   and _at(c["originated_at"]) > asterisk_end
                   for c in (page or {}).get("items", []))

    await wait_until(a_new_call_disposed, timeout=180,
                     what="a call dialed after the restart, disposed by a simulated agent")
    assert "already logged in" not in demo.log()
