"""The managers' live wallboard: ``/ws/wallboard`` (push) and the ``/wallboard`` page.

A ``Wallboard`` task listens to the dialer's bus; after any event (screen pop, agent state,
alarm) it pushes a fresh snapshot, debounced to at most one per ``min_interval_s`` (0.25 s:
four a second), and at least one every ``refresh_s`` so times in state and the chart keep
moving while nothing happens. Each push is the *whole* state (never a delta), so a socket
that overflows or reconnects just takes the latest one.

Fan-out reuses the screen-pop hub (:class:`crm.pops.PopHub`): one channel, one bounded queue
and writer task per socket, overflow resyncs to the current snapshot, heartbeats. The chart's
history (abandon rate and connects per campaign) is a server-side ring buffer of samples taken
every ``sample_s``.

The supervisor to-do list (open tasks of ``supervisor_todo`` rule firings) rides on the same
snapshots: the CRM calls :meth:`crm.service.CrmService.on_task_change` listeners after a task
commit (rule firing or task API), which marks the list dirty; one loader task re-reads it from
the database (coalescing bursts) and pushes a board. No polling. As ``/api/supervisor/todo``, an
admin sees every item and a manager their own and the unowned ones: each manager's sockets are
on their own channel (``wallboard:<user id>``), admins' on ``wallboard``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web

import web as pages
from ari_app.dialer.bus import EventBus, Subscription
from ari_app.dialer.engine import Dialer
from ari_app.dialer.events import AgentStateChanged, CampaignAlarm
from ari_app.dialer.model import AgentState
from ari_app.dialer.snapshot import CampaignSnapshot, DialerSnapshot
from ari_app.tasks import TaskSet
from crm.domain.access import Principal, require_role
from crm.domain.enums import Role
from crm.errors import AuthenticationError, CrmError
from crm.http.routing import SERVICE_KEY, authenticate
from crm.pops import PopHub
from crm.pops.hub import Message
from crm.pops.ws import check_origin, close_socket
from crm.service import CrmService
from web.appkeys import BUS, DIALER_KEY
from web.console.api import with_regulatory
from web.i18n import translator
from web.nav import page_nav

log = logging.getLogger(__name__)

CHANNEL = "wallboard"
ABANDON_TARGET = 0.03  # the regulatory ceiling when a campaign names none
BUSY_STATES = (AgentState.ON_CALL.value, AgentState.WRAP_UP.value)
REGULATORY_REFRESH_S = 30.0
PHASES = {"ringing": ("dialing",), "answered": ("detecting", "message"),
          "waiting": ("waiting_agent",), "connected": ("connected",)}
STATES = tuple(s.value for s in AgentState if s is not AgentState.LOGGED_OUT)
TODO_LIMIT = 25  # items shown on the board (the total is shown too)
TODO_LOAD = 500  # items read per change (the managers' lists are filtered from these)


class Wallboard:
    """Builds wallboard snapshots from the dialer and keeps the chart's ring buffer."""

    def __init__(self, dialer: Dialer | None = None, *, history: int = 180,
                 sample_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.dialer = dialer
        self.samples: deque[dict[str, Any]] = deque(maxlen=history)
        self.sample_s = sample_s
        self.clock = clock
        self.alarms: dict[str, dict[str, Any]] = {}  # campaign → last CampaignAlarm
        self.todo: dict[str, Any] = {"items": [], "total": 0}  # set by the to-do loader
        self._agent_since: dict[str, tuple[str, str, float]] = {}  # agent → state, campaign, t
        self._occupancy: dict[str, tuple[float, float]] = {}  # campaign → busy s, logged-in s
        self.regulatory: dict[str, dict[str, Any]] = {}  # campaign → CRM window abandon rate

    def note(self, event: object) -> None:
        if isinstance(event, CampaignAlarm):
            self.alarms[event.campaign_id] = {"kind": event.kind, "message": event.message,
                                              "at": event.at}
        elif isinstance(event, AgentStateChanged):
            self._account(event.agent_id, event.campaign_id, event.state.value, event.at)

    def _account(self, agent_id: str, campaign_id: str, state: str, at: float) -> None:
        """Occupancy = (on call + wrap-up) / logged-in time, per campaign, from the agents'
        state changes since this controller started."""
        last = self._agent_since.get(agent_id)
        if last is not None:
            prev_state, prev_campaign, since = last
            spent = max(0.0, at - since)
            busy, logged = self._occupancy.get(prev_campaign, (0.0, 0.0))
            if prev_state != AgentState.LOGGED_OUT.value:
                logged += spent
                if prev_state in BUSY_STATES:
                    busy += spent
            self._occupancy[prev_campaign] = (busy, logged)
        self._agent_since[agent_id] = (state, campaign_id, at)

    def occupancy(self, campaign_id: str, now: float) -> float | None:
        busy, logged = self._occupancy.get(campaign_id, (0.0, 0.0))
        for state, campaign, since in self._agent_since.values():  # intervals still running
            if campaign == campaign_id and state != AgentState.LOGGED_OUT.value:
                logged += max(0.0, now - since)
                if state in BUSY_STATES:
                    busy += max(0.0, now - since)
        return round(busy / logged, 4) if logged > 0 else None

    def todo_for(self, viewer: str | None) -> dict[str, Any]:
        """The to-do a viewer sees: all (``None``: an admin), else their own and the unowned."""
        items = self.todo["items"]
        if viewer is None:
            return {"items": items[:TODO_LIMIT], "total": self.todo["total"]}
        mine = [i for i in items if i["owner_id"] in (None, viewer)]
        return {"items": mine[:TODO_LIMIT], "total": len(mine)}

    def message(self, viewer: str | None = None) -> Message:
        """The whole board as one ``wallboard`` message (no side effects); ``viewer``: the
        manager's user id (their to-do), ``None`` for an admin."""
        now = self.clock()
        snap = self._snapshot()
        counts = {s: 0 for s in STATES}
        for agent in snap.agents:
            counts[agent.state.value] = counts.get(agent.state.value, 0) + 1
        calls = {name: sum(1 for c in snap.calls if c.phase.value in phases)
                 for name, phases in PHASES.items()}
        campaigns = [self._campaign(c, now) for c in snap.campaigns]
        return {"type": "wallboard", "ts": now, "target": ABANDON_TARGET,
                "agents": [a.as_json() for a in sorted(snap.agents, key=lambda a: a.agent_id)],
                "agent_counts": counts, "calls": calls, "campaigns": campaigns,
                "history": list(self.samples), "todo": self.todo_for(viewer)}

    def _snapshot(self) -> DialerSnapshot:
        return self.dialer.snapshot() if self.dialer is not None else DialerSnapshot(worker="")

    def _campaign(self, c: CampaignSnapshot, now: float) -> dict[str, Any]:
        last = self.alarms.get(c.campaign_id)  # the runner's alarm is the truth; the
        explained = last is not None and c.alarm == last["kind"]  # event says why
        target = c.abandon_target
        dials, answers, connects = c.dials, c.live_answers, c.connects
        return {**c.as_json(), "alarm_message": last["message"] if explained and last else None,
                "abandon_target": target, "over_target": c.abandon_rate > target,
                "answer_rate": round(answers / dials, 4) if dials else None,
                "dials_per_connect": round(dials / connects, 2) if connects else None,
                "occupancy": self.occupancy(c.campaign_id, now),
                "regulatory": self.regulatory.get(c.campaign_id)}

    def sample(self) -> None:
        """Add a chart point if the last one is ``sample_s`` old (called on every push)."""
        now = self.clock()
        if self.samples and now - self.samples[-1]["t"] < self.sample_s:
            return
        self.samples.append({"t": round(now, 1), "campaigns": {
            c.campaign_id: {"abandon_rate": c.abandon_rate, "connects": c.connects}
            for c in self._snapshot().campaigns}})


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def load_todo(svc: CrmService, limit: int = TODO_LOAD) -> dict[str, Any]:
    """The open supervisor to-do items (all managers'; the board is shared), newest and most
    urgent first, with the customer's name and the owner's user name."""
    todo = await svc.supervision.open_todo(limit)
    items = []
    for item in todo.items:
        title_en = (item.description or "").split("\n\n", 1)[0].strip() or item.title
        items.append({
            "id": str(item.task_id), "title": {"zh": item.title, "en": title_en},
            "customer_id": str(item.customer_id) if item.customer_id else None,
            "customer": item.customer_name, "call_id": item.call_id,
            "rule_id": item.rule_id, "evidence": list(item.evidence),
            "due_at": _iso(item.due_at), "created_at": _iso(item.created_at),
            "owner": item.owner_name, "priority": item.priority,
            "owner_id": str(item.owner_id) if item.owner_id else None})
    return {"items": items, "total": todo.total}


async def todo_loop(hub: WallboardHub, svc: CrmService, dirty: asyncio.Event) -> None:
    """Re-read the to-do list whenever the CRM says a task changed, then push a board."""
    while True:
        await dirty.wait()
        dirty.clear()  # changes during the read set it again: one more read, never a lost one
        try:
            hub.board.todo = await load_todo(svc)
            hub.push()
        except Exception:
            log.exception("wallboard: loading the supervisor to-do list failed")
            await asyncio.sleep(1.0)


class WallboardHub(PopHub):
    """The pop hub on one channel whose current state is a freshly built board."""

    def __init__(self, board: Wallboard, **options: Any) -> None:
        super().__init__(**options)
        self.board = board

    def current(self, agent_id: str) -> list[Message]:
        return [self.board.message(viewer_of(agent_id))]

    def push(self) -> int:
        """One board to every channel with a socket (a manager's with their own to-do)."""
        self.board.sample()
        board = self.board.message()
        sent = 0
        for channel in sorted({c.agent_id for c in self.connections()} | {CHANNEL}):
            viewer = viewer_of(channel)
            sent += self.deliver(channel, board if viewer is None else {
                **board, "todo": self.board.todo_for(viewer)})
        return sent


def channel_of(principal: Principal) -> str:
    return CHANNEL if principal.is_admin else f"{CHANNEL}:{principal.user_id}"


def viewer_of(channel: str) -> str | None:
    return channel.split(":", 1)[1] if ":" in channel else None


async def publish_loop(hub: WallboardHub, sub: Subscription, *, min_interval_s: float = 0.25,
                       refresh_s: float = 10.0) -> None:
    """Push after events (at most one push per ``min_interval_s``), or every ``refresh_s``."""
    loop = asyncio.get_running_loop()
    last = -min_interval_s
    while True:
        try:
            async with asyncio.timeout(refresh_s):
                hub.board.note(await sub.get())
        except TimeoutError:
            pass
        wait = last + min_interval_s - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)  # debounce: events arriving meanwhile join this push
        while not sub.queue.empty():
            hub.board.note(sub.queue.get_nowait())
        try:
            hub.push()
        except Exception:  # a bad snapshot must not stop the board
            log.exception("wallboard: building the snapshot failed")
        last = loop.time()


# ------------------------------------------------------------------------ HTTP --
WALLBOARD_HUB = web.AppKey("wallboard_hub", WallboardHub)
BOARD_ROLES = (Role.MANAGER,)  # and admin (always allowed)
JS_KEYS = ("live", "reconnecting", "no_agents", "no_campaigns", "wb_alarm", "wb_over_target",
           "wb_abandon_rate", "wb_connects", "wb_target", "wb_dials", "wb_answers",
           "wb_hopper", "wb_minutes_ago", "wb_answer_rate", "wb_dials_per_connect", "wb_occupancy",
           "wb_regulatory", "wb_window_30d", "wb_window_24h",
           "mon_listen", "mon_whisper", "mon_barge", "mon_stop",
           "mon_active", "mon_stopped", "mon_failed", "todo_none", "todo_due", "todo_owner",
           "todo_unowned", "todo_more", "todo_evidence")


async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    principal = await authenticate(request, request.app[SERVICE_KEY])
    if principal is None:
        raise AuthenticationError("authentication required")
    require_role(principal, *BOARD_ROLES)
    check_origin(request)
    hub = request.app[WALLBOARD_HUB]
    ws = web.WebSocketResponse(heartbeat=max(hub.heartbeat_s, 1.0), max_msg_size=4096)
    await ws.prepare(request)
    conn = hub.connect(channel_of(principal), ws.send_str, partial(close_socket, request, ws))
    writer = asyncio.create_task(conn.run(), name=f"wallboard-writer-{principal.username}")
    try:
        async for msg in ws:  # the page sends nothing; read to see pongs and the close
            if msg.type is WSMsgType.ERROR:
                break
    finally:
        hub.disconnect(conn)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


async def wallboard_page(request: web.Request) -> web.Response:
    try:
        principal = await authenticate(request, request.app[SERVICE_KEY])
    except CrmError:
        principal = None
    if principal is None:
        raise web.HTTPFound("/login?next=/wallboard")
    require_role(principal, *BOARD_ROLES)
    lang = pages.request_language(request)
    t = translator(lang)
    labels = {k: t(k) for k in (*JS_KEYS, *(f"state_{s}" for s in STATES))}
    board = request.app[WALLBOARD_HUB].board.message(viewer_of(channel_of(principal)))
    return pages.page_response(request, "wallboard.html", lang,
                               boot={"lang": lang, "strings": labels, "board": board},
                               states=STATES, username=principal.username,
                               nav=page_nav(request, principal))


async def regulatory_loop(hub: WallboardHub, svc: CrmService,
                          period_s: float = REGULATORY_REFRESH_S, check_s: float = 2.0) -> None:
    """Each running campaign's abandon rate over its regulatory window (30 days or 24 hours,
    from the CRM's call records) against its target: read every ``period_s``, and at once when
    a campaign starts or stops."""
    loop = asyncio.get_running_loop()
    read_ids: list[str] | None = None
    read_at = float("-inf")
    while True:
        try:
            dialer = hub.board.dialer
            ids = list(dialer.configs) if dialer else []  # not the whole snapshot
            if ids != read_ids or loop.time() - read_at >= period_s:
                items = []
                for campaign_id in ids:
                    try:
                        items.append(await svc.dialing.get(uuid.UUID(campaign_id)))
                    except (CrmError, ValueError):
                        continue  # not a CRM campaign (or gone): no regulatory figure
                await with_regulatory(svc, items)
                hub.board.regulatory = {i["campaign"]["id"]: i["regulatory"]
                                        for i in items if "regulatory" in i}
                read_ids, read_at = ids, loop.time()
        except Exception:  # noqa: BLE001 - the board goes on without the figure
            log.exception("wallboard: regulatory abandon rates failed")
        await asyncio.sleep(check_s)


def install_wallboard(app: web.Application, *, min_interval_s: float = 0.25,
                      refresh_s: float = 10.0, sample_s: float = 10.0) -> WallboardHub:
    """Mount ``/wallboard`` and ``/ws/wallboard``. Append after the dialer's cleanup context:
    the publisher starts once ``app[DIALER_KEY]`` and ``app[BUS]`` are there."""
    hub = WallboardHub(Wallboard(sample_s=sample_s), queue_size=8)
    app[WALLBOARD_HUB] = hub
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/ws/wallboard", wallboard_socket)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        hub.board.dialer = app[DIALER_KEY]
        bus: EventBus = app[BUS]
        sub = bus.subscribe(size=256)
        svc: CrmService = app[SERVICE_KEY]
        dirty = asyncio.Event()
        loop = asyncio.get_running_loop()

        def task_changed() -> None:
            loop.call_soon_threadsafe(dirty.set)

        unsubscribe = svc.on_task_change(task_changed)
        dirty.set()  # the first read
        tasks = TaskSet(log)
        tasks.spawn(todo_loop(hub, svc, dirty), "wallboard-todo")
        tasks.spawn(regulatory_loop(hub, svc), "wallboard-regulatory")
        tasks.spawn(publish_loop(hub, sub, min_interval_s=min_interval_s, refresh_s=refresh_s),
                    "wallboard")
        tasks.spawn(hub.heartbeat(), "wallboard-heartbeat")
        yield
        unsubscribe()
        sub.close()
        await tasks.close()

    app.cleanup_ctx.append(ctx)
    app.on_shutdown.append(lambda app: hub.close_all())
    return hub
