"""The demo's simulated agents (issue 17 findings 16 and 17): they act only on the demo's own
agents, one refused disposition never stops them, and a demo restarted after a crash adopts the
agents (and their phones) the reconciliation recovered instead of logging them in again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from ari_app.dialer.bus import EventBus
from ari_app.dialer.errors import Conflict, InvalidRequest
from ari_app.dialer.events import AgentStateChanged
from ari_app.dialer.model import AgentState
from ari_app.sim import phone_ports
from web import demo as demo_mod
from web.appkeys import BUS, SETTINGS, TELEPHONY
from web.demo import PHONES_FILE, Demo, PhoneFile, sipp_running


class StubDialer:
    """What the demo uses of the dialer: reconciliation, agent sessions, login, dispose."""

    def __init__(self, recovered: dict[str, AgentState] | None = None) -> None:
        self.reconciler = SimpleNamespace(first_done=asyncio.Event())
        self.reconciler.first_done.set()
        self.sessions = [SimpleNamespace(agent_id=a, state=s)
                         for a, s in (recovered or {}).items()]
        self.agents = SimpleNamespace(of_all=lambda: list(self.sessions))
        self.logins: list[str] = []
        self.disposed: list[str] = []
        self.refuse: set[str] = set()
        self.disposal = asyncio.Event()

    async def login(self, agent_id: str, extension: str, campaign_id: str) -> None:
        if agent_id in {s.agent_id for s in self.sessions}:
            raise InvalidRequest("agent_id", f"agent {agent_id} is already logged in")
        self.logins.append(agent_id)

    async def dispose(self, agent_id: str, disposition: str) -> None:
        self.disposal.set()
        if agent_id in self.refuse:
            raise Conflict(f"agent {agent_id} is ready, not in wrap-up")
        self.disposed.append(agent_id)


def _app(tmp_path: Path) -> web.Application:
    app = web.Application()
    app[BUS] = EventBus()
    app[SETTINGS] = SimpleNamespace(  # type: ignore[assignment]
        data_dir=str(tmp_path), public_url="http://127.0.0.1:9/")
    app[TELEPHONY] = SimpleNamespace(ami=None, ari=None)  # type: ignore[assignment]
    return app


def _demo(tmp_path: Path, dialer: StubDialer) -> Demo:
    demo = Demo(None, dialer, _app(tmp_path))  # type: ignore[arg-type]
    demo.think_s = (0.0, 0.0)
    return demo


def _wrap_up(agent_id: str) -> AgentStateChanged:
    return AgentStateChanged(agent_id, "c1", AgentState.ON_CALL, AgentState.WRAP_UP, 0.0)


async def _next_disposal(dialer: StubDialer) -> None:
    async with asyncio.timeout(5):
        await dialer.disposal.wait()
    dialer.disposal.clear()


@pytest.fixture
async def playing(tmp_path: Path) -> AsyncIterator[tuple[Demo, StubDialer, asyncio.Task[None]]]:
    dialer = StubDialer()
    demo = _demo(tmp_path, dialer)
    task = asyncio.create_task(demo.play_agents())
    await asyncio.sleep(0)  # subscribed
    yield demo, dialer, task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_given_real_agent_in_wrap_up_when_demo_plays_then_only_demo_agents_disposed(
    playing: tuple[Demo, StubDialer, asyncio.Task[None]],
) -> None:
    demo, dialer, _ = playing
    demo.app[BUS].publish(_wrap_up("alice"))  # a real agent logged in beside the demo's
    demo.app[BUS].publish(_wrap_up("agent1001"))
    await _next_disposal(dialer)
    assert dialer.disposed == ["agent1001"]


async def test_given_disposition_refused_when_demo_plays_then_logged_and_next_agent_disposed(
    playing: tuple[Demo, StubDialer, asyncio.Task[None]],
) -> None:
    demo, dialer, task = playing
    dialer.refuse.add("agent1001")  # "is ready, not in wrap-up": a conflict
    demo.app[BUS].publish(_wrap_up("agent1001"))
    await _next_disposal(dialer)
    demo.app[BUS].publish(_wrap_up("agent1002"))
    await _next_disposal(dialer)
    assert dialer.disposed == ["agent1002"] and not task.done()


async def test_given_agent_adopted_in_wrap_up_when_demo_plays_then_disposed(
    tmp_path: Path,
) -> None:
    dialer = StubDialer({"agent1001": AgentState.WRAP_UP, "alice": AgentState.WRAP_UP})
    task = asyncio.create_task(_demo(tmp_path, dialer).play_agents())
    await _next_disposal(dialer)
    assert dialer.disposed == ["agent1001"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _fake_sipp(extension: str) -> subprocess.Popen[bytes]:
    """A process whose command line reads like a SIPp phone of ``extension``; returned once it
    runs (right after exec its /proc cmdline can still read empty)."""
    port = str(phone_ports(extension)[0])
    proc = subprocess.Popen(
        ["sipp", "-c", "import time; print('up', flush=True); time.sleep(60)", "-p", port],
        executable=sys.executable, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    return proc


async def test_given_restart_after_kill_when_agents_recovered_then_adopted_not_logged_in_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[str] = []

    async def start_phone(ext: str, *args: Any) -> Any:
        started.append(ext)
        return SimpleNamespace(extension=ext, process=SimpleNamespace(pid=40000 + int(ext)),
                               stop=lambda: None)

    monkeypatch.setattr(demo_mod, "start_phone", start_phone)
    left = _fake_sipp("1001")  # the killed demo's phone, still holding agent1001's leg
    try:
        PhoneFile(tmp_path / PHONES_FILE).write({"1001": left.pid})
        assert sipp_running(left.pid, "1001") and not sipp_running(left.pid, "1002")
        # the reconciliation recovered 1001 on its leg and is re-inviting 1002
        dialer = StubDialer({"agent1001": AgentState.ON_CALL,
                             "agent1002": AgentState.CONNECTING})
        demo = _demo(tmp_path, dialer)

        await demo.start_agents("c1")  # "already logged in" must not stop it

        assert started == ["1002", "1003"] and dialer.logins == ["agent1003"]
        assert demo.adopted_pids == [left.pid]
        assert PhoneFile(tmp_path / PHONES_FILE).read() == {
            "1001": left.pid, "1002": 41002, "1003": 41003}
        demo.stop_phones()  # the adopted phone is stopped with the demo
        assert left.wait(timeout=5) is not None
    finally:
        left.kill()
        left.wait()
        assert left.stdout is not None
        left.stdout.close()
