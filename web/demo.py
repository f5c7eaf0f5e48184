"""``dialcrm demo``: a predictive campaign against the simulated PSTN, with simulated agents.

On start-up (after the CRM and the dialer are up) it creates, once, the demo users
(the agents members of the demo campaign, each with their extension bound) and a campaign of
leads with Chinese names whose numbers follow the sim-pstn
scheme (humans, machines, busy, no answer, …); it starts three SIPp agent phones
(1001–1003), logs those agents in, dials the campaign in predictive mode, and
plays the agents: each sets a disposition through the REST API a few seconds
into wrap-up (its own agents only; a refused disposition is logged and skipped).
Progress is printed every 10 seconds; the pages show the calls.

Restarted after a crash (even SIGKILL), it adopts what is already there: the
agents the dialer's reconciliation recovered on their nailed-up legs are not
logged in again, and their SIPp phones (recorded in ``demo-phones.json`` in the
data directory) are kept and stopped at the end; a stale phone of an agent not
recovered is stopped before a new one takes its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import select
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ari_app import sandbox
from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import DialerUseCaseError
from ari_app.dialer.events import AgentStateChanged
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.sim import SippPhone, phone_ports, start_phone
from crm.app import crm_service_of
from crm.domain.enums import Role
from crm.errors import AlreadyExistsError, ConflictError, CrmError
from crm.service import CrmService
from web.appkeys import BUS, DIALER_KEY, SETTINGS, TELEPHONY

log = logging.getLogger(__name__)

CAMPAIGN_NAME = "演示活动 Demo campaign"
AGENT_EXTENSIONS = ("1001", "1002", "1003")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明")
DEMO_AGENTS = frozenset(f"agent{e}" for e in AGENT_EXTENSIONS)
PHONES_FILE = "demo-phones.json"  # in the data directory: {extension: SIPp pid}
RECONCILE_WAIT_S = 30.0
# Last digit: 0-3, 9 human; 4 machine; 5 no answer; 6 busy; 7 unreachable; 8 not a number.
OUTCOME_DIGITS = "0123901239012345678"


def demo_password() -> str:
    return os.environ.get("DIALCRM_DEMO_PASSWORD", "demo-2026")


def demo_numbers(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    numbers = []
    for i in range(count):
        talk, ring = rng.randint(0, 3), rng.randint(0, 4)
        numbers.append(f"+86139{i:05d}{talk}{ring}{OUTCOME_DIGITS[i % len(OUTCOME_DIGITS)]}")
    return numbers


def install_demo(app: web.Application) -> None:
    app.cleanup_ctx.append(_demo_ctx)


async def _demo_ctx(app: web.Application) -> AsyncIterator[None]:
    demo = Demo(crm_service_of(app), app[DIALER_KEY], app)
    task = asyncio.create_task(demo.run(), name="demo")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    demo.stop_phones()


class Demo:
    def __init__(self, crm: CrmService, dialer: Dialer, app: web.Application) -> None:
        self.crm = crm
        self.dialer = dialer
        self.app = app
        self.phones: list[SippPhone] = []
        self.adopted_pids: list[int] = []  # phones a previous (killed) demo left running
        self.tokens: dict[str, str] = {}
        self.think_s = (2.0, 5.0)  # how long a simulated agent types their notes

    async def run(self) -> None:
        try:
            campaign_id = await self.prepare()
            await self.seed_desks(campaign_id)
            await self.dialer.start_campaign(CampaignConfig(
                campaign_id, name=CAMPAIGN_NAME, mode=DialMode.PREDICTIVE, ring_timeout_s=20,
                caller_id="4008888000", wrap_up_limit_s=30, dial_ratio=1.6))
            await self.start_agents(campaign_id)
            async with asyncio.TaskGroup() as group:
                group.create_task(self.play_agents())
                group.create_task(self.report(campaign_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("demo failed")

    async def prepare(self) -> str:
        password = demo_password()
        for username, role in (("admin", Role.ADMIN), ("manager", Role.MANAGER),
                               *((f"agent{e}", Role.AGENT) for e in AGENT_EXTENSIONS)):
            try:
                await self.crm.auth.create_user(username, role, password=password)
            except AlreadyExistsError:
                pass  # a restarted demo: the agents still get their tokens below
        agents = await self.crm.auth.list_users(role=Role.AGENT, limit=200)
        for user in _items(agents):
            if user.username in DEMO_AGENTS:
                self.tokens[user.username] = (await self.crm.auth.issue_token(
                    user.id, "demo", expires_in_days=1)).token
        campaigns = await self.crm.campaigns.list()
        existing = [c for c in _items(campaigns) if c.name == CAMPAIGN_NAME]
        if existing:
            return str(existing[0].id)
        campaign = await self.crm.campaigns.create(
            {"name": CAMPAIGN_NAME, "window_start": "00:00", "window_end": "23:59",
             "max_attempts": 3, "retry_no_answer_minutes": 2, "retry_busy_minutes": 1})
        rng = random.Random(3)
        rows = [{"phone": n, "name": rng.choice(SURNAMES) + rng.choice(GIVEN) * rng.randint(1, 2),
                 "tags": rng.choice(["vip", "new", "price-sensitive", ""])}
                for n in demo_numbers(60)]
        async for _ in self.crm.import_leads(campaign.id, rows):
            pass
        return str(campaign.id)

    async def seed_desks(self, campaign_id: str) -> None:
        """The demo agents are members of the demo campaign, each with their phone bound
        (agent1001: 1001, ...), so that they, and a person signed in as one of them on /agent,
        may log in (issue 17 item 7: nothing is open by default). Idempotent; a phone an
        operator has bound to someone else stays theirs."""
        campaign = uuid.UUID(campaign_id)
        for ext in AGENT_EXTENSIONS:
            username = f"agent{ext}"
            try:
                await self.crm.members.add(campaign, username, None)
            except AlreadyExistsError:
                pass
            try:
                await self.crm.members.bind(username, [ext], None)
            except ConflictError:
                log.warning("demo: extension %s is bound to another user; %s keeps none",
                            ext, username)

    async def start_agents(self, campaign_id: str) -> None:
        """Log the demo agents in, adopting those a previous demo left logged in."""
        try:  # what a previous process left (agents on their legs) is adopted by then
            async with asyncio.timeout(RECONCILE_WAIT_S):
                await self.dialer.reconciler.first_done.wait()
        except TimeoutError:
            log.warning("demo: no reconciliation within %.0f s; logging agents in anyway",
                        RECONCILE_WAIT_S)
        box = sandbox.Sandbox.from_env()
        wav = box.path("/usr/share/asterisk/sounds/dialcrm/agent-talk.ulaw.wav")
        work = Path(tempfile.mkdtemp(prefix="dialcrm-demo-"))
        telephony = self.app[TELEPHONY]
        left = PhoneFile(Path(self.app[SETTINGS].data_dir) / PHONES_FILE)
        previous = left.read()
        recovered = {s.agent_id for s in self.dialer.agents.of_all()}
        for ext in AGENT_EXTENSIONS:
            agent, pid = f"agent{ext}", previous.get(ext)
            if agent in recovered and pid is not None and sipp_running(pid, ext):
                self.adopted_pids.append(pid)
                log.info("demo: %s adopted (logged in on its phone, SIPp pid %d)", agent, pid)
                continue
            if pid is not None and sipp_running(pid, ext):
                await asyncio.to_thread(stop_pid, pid)  # a stale phone holds the port
            self.phones.append(await start_phone(ext, wav, work, telephony.ami, telephony.ari))
            left.write({**previous, **self._pids()})
            try:
                await self.dialer.login(agent, ext, campaign_id)
            except DialerUseCaseError as exc:  # e.g. re-invited meanwhile: already logged in
                log.warning("demo: %s not logged in again: %s", agent, exc)
        left.write({**{e: p for e, p in previous.items() if p in self.adopted_pids},
                    **self._pids()})
        print(f"demo: agents {', '.join('agent' + e for e in AGENT_EXTENSIONS)} logged in "
              f"({len(self.adopted_pids)} adopted; password {demo_password()!r}); "
              f"manager 'manager', admin 'admin'", flush=True)

    def _pids(self) -> dict[str, int]:
        return {p.extension: p.process.pid for p in self.phones if p.process is not None}

    def stop_phones(self) -> None:
        for phone in self.phones:
            phone.stop()
        for pid in self.adopted_pids:
            stop_pid(pid)
        with contextlib.suppress(OSError):
            (Path(self.app[SETTINGS].data_dir) / PHONES_FILE).unlink()

    async def play_agents(self) -> None:
        """Each simulated agent sets a disposition 2–5 s into wrap-up, through the API.
        Only the demo's own agents: a real agent logged in beside them disposes themself."""
        sub = self.app[BUS].subscribe(
            lambda e: isinstance(e, AgentStateChanged) and e.state is AgentState.WRAP_UP
            and e.agent_id in DEMO_AGENTS)
        base = self.app[SETTINGS].public_url.rstrip("/")
        async with aiohttp.ClientSession() as http, asyncio.TaskGroup() as group:
            for session in self.dialer.agents.of_all():  # adopted in wrap-up at a restart
                if session.agent_id in DEMO_AGENTS and session.state is AgentState.WRAP_UP:
                    group.create_task(self.dispose_later(http, base, session.agent_id))
            while True:
                event = await sub.get()
                assert isinstance(event, AgentStateChanged)
                group.create_task(self.dispose_later(http, base, event.agent_id))

    async def dispose_later(self, http: aiohttp.ClientSession, base: str, agent: str) -> None:
        """One disposition; a refusal (e.g. the agent is ready already) is logged and
        skipped: it never stops the other simulated agents."""
        await asyncio.sleep(random.uniform(*self.think_s))  # the agent types their notes
        choice = random.choice(["sale", "not_interested", "not_interested", "callback"])
        try:
            await self._dispose(http, base, agent, choice)
        except (DialerUseCaseError, CrmError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("demo: %s disposition %s skipped: %s", agent, choice, exc)

    async def _dispose(self, http: aiohttp.ClientSession, base: str, agent: str,
                       choice: str) -> None:
        body: dict[str, str] = {"disposition": choice}
        if choice == "callback":
            body["callback_at"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        token = self.tokens.get(agent)
        if token is None:
            await self.dialer.dispose(agent, choice)
            return
        async with http.post(f"{base}/api/agent/disposition", json=body,
                             headers={"Authorization": f"Bearer {token}"},
                             timeout=aiohttp.ClientTimeout(total=10)) as resp:
            if resp.status != 200:
                log.warning("demo: %s disposition -> %s %s", agent, resp.status,
                            (await resp.text())[:200])
            else:
                log.info("demo: %s disposition %s", agent, choice)

    async def report(self, campaign_id: str) -> None:
        while True:
            await asyncio.sleep(10)
            for c in self.dialer.snapshot().campaigns:
                print(f"demo: {c.mode.value} dials={c.dials} answers={c.live_answers} "
                      f"connects={c.connects} machines={c.machines} "
                      f"abandons={c.abandons} ({c.abandon_rate:.1%}) "
                      f"hopper={c.hopper} alarm={c.alarm or '-'} | {c.pacing_reason}",
                      flush=True)


class PhoneFile:
    """The SIPp phones a demo started ({extension: pid}), for the next demo after a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, int]:
        try:
            body = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(body, dict):
            return {}
        return {str(k): v for k, v in body.items() if isinstance(v, int)}

    def write(self, pids: dict[str, int]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(pids))
        tmp.replace(self.path)


def sipp_running(pid: int, extension: str) -> bool:
    """The process ``pid`` is still a SIPp phone of ``extension`` (not a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    port = str(phone_ports(extension)[0]).encode()
    return bool(argv) and argv[0].endswith(b"sipp") and port in argv


def stop_pid(pid: int, timeout_s: float = 5.0) -> None:
    """Stop a phone the demo started (SIGTERM, then SIGKILL). After a crash it is no child of
    ours: its exit is waited for on a pidfd (readable once the process has exited)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                signal.pidfd_send_signal(fd, sig)
            except ProcessLookupError:
                return
            if select.select([fd], [], [], timeout_s)[0]:
                return
    finally:
        os.close(fd)


def _items(page: object) -> list[Any]:
    return list(getattr(page, "items", page))  # type: ignore[call-overload]
