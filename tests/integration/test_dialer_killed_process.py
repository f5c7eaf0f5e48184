"""kill -9 of the controller as a separate process mid-call, then a restart (issue 3).

The controller runs as ``python -m tests.integration.dialer_proc`` with its own SQLite stores;
a SIPp agent phone (1017) and a long sim-pstn human call are bridged; the process gets SIGKILL
(nothing flushed, no logout, no hang-up); the call lives on in Asterisk. A new process on the
same stores reconciles with ARI's channels and bridges: the live call is adopted (and ends with
one complete record), the agent session is recovered on its nailed-up leg, and in the CRM the
call records equal the originated calls, with no duplicate event.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ari_app.ari import AriClient, AriConfig
from ari_app.dialer.store import DialerStore
from ari_app.testing import wait_until
from crm.db.engine import make_engine
from crm.db.models import Call, CallEventRow
from crm.db.models_ops import Lead

ROOT = Path(__file__).resolve().parents[2]
LONG_HUMAN = "+8613900000500"  # answers after 1 s, stays on 30 s after speaking
NUMBERS = [LONG_HUMAN, "+8613900000016", "+8613900000100"]  # then busy, then a short human
AGENT = "1017"


class Controller:
    """One controller process at a time on one work directory."""

    def __init__(self, work: Path, app: str) -> None:
        self.work = work
        self.app = app
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *args: str) -> None:
        (self.work / "status.json").unlink(missing_ok=True)
        self.starts += 1
        log = open(self.work / f"controller-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.dialer_proc", str(self.work),
             "--app", self.app, *args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
        )

    def status(self) -> dict[str, Any] | None:
        path = self.work / "status.json"
        if not path.exists():
            return None
        return json.loads(path.read_text())

    async def until(self, check: Callable[[dict[str, Any]], bool], what: str,
                    timeout: float = 60) -> dict[str, Any]:
        found: dict[str, Any] = {}

        async def holds() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"controller exited ({self.proc.returncode}): "
                                     f"{self.log_tail()}")
            status = self.status()
            if status is not None and check(status):
                found.update(status)
                return True
            return False

        await wait_until(holds, timeout=timeout, what=what)
        return found

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self) -> str:
        path = self.work / f"controller-{self.starts}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
def controller(ari_config: AriConfig, tmp_path: Path, ari) -> Iterator[Controller]:
    ctl = Controller(tmp_path, ari_config.app)
    yield ctl
    ctl.stop()


def _connected(status: dict[str, Any]) -> list[str]:
    return [cid for cid, phase in status["call_phases"].items() if phase == "connected"]


async def _crm_rows(work: Path) -> tuple[list[Any], list[Any], list[Any]]:
    engine = make_engine(f"sqlite+aiosqlite:///{work / 'crm.sqlite3'}")
    try:
        async with engine.connect() as conn:
            calls = (await conn.execute(sa.select(Call))).all()
            events = (await conn.execute(sa.select(CallEventRow))).all()
            leads = (await conn.execute(sa.select(Lead))).all()
    finally:
        await engine.dispose()
    return calls, events, leads


async def test_given_controller_process_killed_mid_call_when_restarted_then_call_adopted(
    controller: Controller, ari: AriClient,
    sipp_phone: Callable[..., Awaitable[Any]],
) -> None:
    await sipp_phone(AGENT)
    controller.start("--campaign", *NUMBERS, "--agent", AGENT)
    first = await controller.until(lambda s: bool(_connected(s)), "a call bridged to the agent")
    [live] = _connected(first)
    [agent] = first["agents"]
    assert (agent["state"], agent["call_id"]) == ("on_call", live)

    controller.kill9()
    channels = {c.id for c in await ari.list_channels()}
    assert live in channels, "the customer call outlives the killed controller"
    bridged = [b for b in await ari.list_bridges() if live in b.channels]
    assert len(bridged) == 1 and len(bridged[0].channels) >= 2, "still bridged to the agent"

    controller.start()  # the same stores, a new process
    again = await controller.until(
        lambda s: s["reconciler_runs"] >= 1 and bool(s["agents"]), "the restart's reconciliation")
    assert again["pid"] != first["pid"]
    assert again["call_phases"].get(live) == "connected", ("live call adopted", again)
    [agent] = again["agents"]
    assert agent["agent_id"] == f"agent{AGENT}" and agent["state"] in ("on_call", "wrap_up",
                                                                      "ready")

    def finished(s: dict[str, Any]) -> bool:
        return (not s["call_phases"] and s["outbox"]
                and all(lane["pending"] == 0 for lane in s["outbox"].values())
                and s["forwarders"]["attempts"]["delivered"] >= 1)

    async def all_attempted() -> bool:
        _, _, leads = await _crm_rows(controller.work)
        return len(leads) == len(NUMBERS) and all(lead.attempts >= 1 for lead in leads)

    await wait_until(all_attempted, timeout=150, what="every lead to be attempted")
    done = await controller.until(finished, "every call finished and delivered", timeout=60)
    assert [a["state"] for a in done["agents"]] in (["ready"], ["wrap_up"]), done["agents"]
    controller.stop()

    store = DialerStore(controller.work / "dialer.sqlite3")
    await store.open()
    try:
        payloads = await store.all_payloads("call_events")
        attempts = await store.all_payloads("attempts")
    finally:
        await store.close()
    originated = {p["call_id"] for p in payloads if p["type"] == "originated"}
    ended = sorted(p["call_id"] for p in payloads if p["type"] == "ended")
    calls, events, leads = await _crm_rows(controller.work)
    assert live in originated and len(originated) == len(NUMBERS)
    assert {c.call_id for c in calls} == originated, "one CRM call record per originated call"
    assert ended == sorted(originated), "every call ended exactly once"
    assert len({e.event_id for e in events}) == len(events), "no duplicate event"
    assert len({a["call_id"] for a in attempts}) == len(attempts) == len(originated)
    [adopted] = [c for c in calls if c.call_id == live]
    assert adopted.state == "ended" and adopted.outcome == "answered"
    assert adopted.bridged_at is not None and (adopted.talk_seconds or 0) > 20, (
        "talk time spans the kill and the restart")
    assert {lead.phone_e164: lead.last_outcome for lead in leads} == {
        LONG_HUMAN: "answered", "+8613900000016": "busy", "+8613900000100": "answered"}
