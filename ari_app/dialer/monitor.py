"""Supervisor listen-in, whisper and barge on a live call, through ARI snoop.

The controller calls the supervisor's phone (``PJSIP/{extension}``) into the app
and puts the answered leg in a private *monitor bridge*:

- **listen**: a snoop on the agent's leg with ``spy=both`` joins the monitor bridge:
  the supervisor hears agent and customer; what they say goes nowhere.
- **whisper**: the same snoop with ``whisper=out``: the supervisor's audio goes *out
  to the agent's leg only*; the customer (on the other side of the agent's bridge)
  never hears it.
- **barge**: the supervisor's leg leaves the monitor bridge and joins the call's
  bridge (the agent's nailed-up bridge): everybody hears everybody.

Modes switch live (a new snoop is in place before the old one is hung up), a
monitor stops on request, when the supervisor hangs up, or when the call ends.
Nothing here talks to the CRM: changes are published as :class:`MonitorChanged`
events (audited by the HTTP adapter).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ari_app.ari import AriEvent, EventRouter
from ari_app.dialer.agents import AgentDesk
from ari_app.dialer.calls import CallDesk
from ari_app.dialer.errors import (
    AgentPhoneUnavailable,
    CallNotFound,
    Conflict,
    InvalidRequest,
    NotFound,
)
from ari_app.dialer.model import AgentSession, AgentState, CallAttempt, CallPhase
from ari_app.dialer.ports import CallControl, Clock, Publisher
from ari_app.errors import AriNotFound, TelephonyError

log = logging.getLogger(__name__)

LEG_ARG = "monitor"
SNOOP_ARG = "monitorsnoop"
LEG_PREFIX = "monitor-"
SNOOP_PREFIX = "monsnoop-"
BRIDGE_PREFIX = "monitorbridge-"


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class MonitorState(StrEnum):
    CONNECTING = "connecting"  # calling the supervisor's phone
    ACTIVE = "active"
    ENDED = "ended"


class MonitorControl(CallControl, Protocol):
    """The call verbs plus snoop (implemented by :class:`ari_app.ari.AriClient`)."""

    async def snoop(self, channel_id: str, *, snoop_id: str, spy: str = "in",
                    whisper: str = "none", app_args: str = "") -> object: ...


@dataclass
class MonitorSession:
    monitor_id: str
    call_id: str
    supervisor: str  # the CRM username of the manager
    extension: str
    mode: MonitorMode
    leg_id: str
    bridge_id: str  # the private monitor bridge (supervisor leg + snoop)
    agent_id: str
    actor_ref: str | None = None  # the CRM user id, for the audit log
    snoop_id: str | None = None
    in_call_bridge: bool = False  # barge: the leg is in the agent's bridge
    state: MonitorState = MonitorState.CONNECTING
    started_at: float = 0.0
    end_reason: str | None = None
    switches: int = 0

    def view(self) -> dict[str, Any]:
        return {"monitor_id": self.monitor_id, "call_id": self.call_id,
                "supervisor": self.supervisor, "extension": self.extension,
                "mode": self.mode.value, "state": self.state.value, "agent_id": self.agent_id,
                "channel_id": self.leg_id, "snoop_id": self.snoop_id,
                "monitor_bridge_id": self.bridge_id, "in_call_bridge": self.in_call_bridge,
                "started_at": self.started_at, "end_reason": self.end_reason}


@dataclass(frozen=True)
class MonitorChanged:
    """A supervisor started, switched or stopped monitoring a call (``change``:
    started, mode_changed, ended)."""

    monitor_id: str
    call_id: str
    supervisor: str
    actor_ref: str | None
    extension: str
    mode: str
    change: str
    at: float
    reason: str | None = None


Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


class MonitorDesk:
    """Owns every :class:`MonitorSession`; reads the call and agent desks, never changes them."""

    def __init__(self, control: MonitorControl, calls: CallDesk, agents: AgentDesk,
                 publisher: Publisher, clock: Clock, spawn: Spawn,
                 endpoint_template: str = "PJSIP/{extension}", answer_timeout_s: int = 30,
                 snoop_timeout_s: float = 5.0) -> None:
        self.control = control
        self.calls = calls
        self.agents = agents
        self.publisher = publisher
        self.clock = clock
        self.spawn = spawn
        self.endpoint_template = endpoint_template
        self.answer_timeout_s = answer_timeout_s
        self.snoop_timeout_s = snoop_timeout_s
        self.sessions: dict[str, MonitorSession] = {}
        self._by_leg: dict[str, str] = {}
        self._started: dict[str, asyncio.Future[bool]] = {}  # channel id -> StasisStart seen
        self._lock = asyncio.Lock()
        self.last_extension: dict[str, str] = {}  # supervisor -> extension they last used
        calls.on_finished.append(self._call_finished)

    def register(self, router: EventRouter) -> None:
        router.on("StasisStart", self.on_stasis_start)
        router.on("ChannelDestroyed", self.on_destroyed)

    # ------------------------------------------------------------ queries --
    def live(self) -> list[MonitorSession]:
        return [m for m in self.sessions.values() if m.state is not MonitorState.ENDED]

    def of_call(self, call_id: str) -> list[MonitorSession]:
        return [m for m in self.live() if m.call_id == call_id]

    def of_supervisor(self, supervisor: str) -> MonitorSession | None:
        return next((m for m in self.live() if m.supervisor == supervisor), None)

    def _live_call(self, call_id: str) -> tuple[CallAttempt, AgentSession]:
        call = self.calls.calls.get(call_id)
        if call is None or call.phase is CallPhase.ENDED:
            raise CallNotFound(call_id)
        agent = self.agents.sessions.get(call.agent_id or "")
        if (call.phase is not CallPhase.CONNECTED or agent is None
                or agent.state is not AgentState.ON_CALL or agent.call_id != call_id):
            error = Conflict(f"call {call_id} is {call.phase.value}: only a call connected "
                             "to an agent can be monitored")
            error.field = "call_id"
            raise error
        return call, agent

    # ------------------------------------------------------------ verbs --
    async def monitor(self, call_id: str, supervisor: str, mode: str,
                      extension: str | None = None,
                      actor_ref: str | None = None) -> MonitorSession:
        """Start monitoring ``call_id`` (or switch mode if this supervisor already does)."""
        wanted = _mode(mode)
        async with self._lock:
            _, agent = self._live_call(call_id)
            current = self.of_supervisor(supervisor)
            if current is not None:
                if current.call_id != call_id:
                    raise _conflict("call_id", f"{supervisor} is monitoring call "
                                    f"{current.call_id}: stop that first")
                return await self._switch(current, wanted)
            ext = self._extension(supervisor, extension, agent)
            session = MonitorSession(
                f"mon-{uuid.uuid4().hex[:12]}", call_id, supervisor, ext, wanted,
                leg_id="", bridge_id="", agent_id=agent.agent_id, actor_ref=actor_ref,
                started_at=self.clock.now())
            session.leg_id = LEG_PREFIX + session.monitor_id
            session.bridge_id = BRIDGE_PREFIX + session.monitor_id
            self.sessions[session.monitor_id] = session
            self._by_leg[session.leg_id] = session.monitor_id
        try:
            await self._connect(session, agent)
        except BaseException as exc:
            await self._teardown(session, f"failed: {exc}"[:120], publish=False)
            raise
        if session.state is MonitorState.ENDED:  # the call ended while the phone rang
            raise _conflict("call_id", f"call {call_id} ended before the supervisor answered")
        session.state = MonitorState.ACTIVE
        self.last_extension[supervisor] = ext
        self._publish(session, "started")
        log.info("monitor %s: %s %s call %s on %s", session.monitor_id, supervisor,
                 wanted.value, call_id, ext)
        return session

    async def switch(self, monitor_id: str, mode: str) -> MonitorSession:
        session = self._get(monitor_id)
        async with self._lock:
            return await self._switch(session, _mode(mode))

    async def stop(self, monitor_id: str, reason: str = "stopped") -> MonitorSession:
        session = self._get(monitor_id)
        await self._teardown(session, reason)
        return session

    async def stop_call(self, call_id: str, supervisor: str | None = None,
                        reason: str = "stopped") -> list[MonitorSession]:
        found = [m for m in self.of_call(call_id)
                 if supervisor is None or m.supervisor == supervisor]
        if not found:
            raise _not_monitored(call_id)
        for session in found:
            await self._teardown(session, reason)
        return found

    # ------------------------------------------------------------ events --
    async def on_stasis_start(self, event: AriEvent) -> None:
        if event.args[:1] not in ((LEG_ARG,), (SNOOP_ARG,)):
            return
        future = self._started.get(event.channel_id or "")
        if future is not None and not future.done():
            future.set_result(True)

    async def on_destroyed(self, event: AriEvent) -> None:
        channel_id = event.channel_id or ""
        future = self._started.get(channel_id)
        if future is not None and not future.done():
            future.set_result(False)
        monitor_id = self._by_leg.get(channel_id)
        session = self.sessions.get(monitor_id or "")
        if session is not None and session.state is MonitorState.ACTIVE:
            log.info("monitor %s: the supervisor hung up", session.monitor_id)
            await self._teardown(session, "supervisor_hung_up")

    def _call_finished(self, call: CallAttempt) -> None:
        for session in self.of_call(call.call_id):
            self.spawn(self._teardown(session, "call_ended"), f"unmonitor-{session.monitor_id}")

    async def sweep(self, channel_ids: list[str], bridge_ids: list[str]) -> int:
        """Hang up monitor channels and bridges of a previous process (ids we do not know)."""
        known = {m.leg_id for m in self.live()} | {m.snoop_id for m in self.live()}
        known_bridges = {m.bridge_id for m in self.live()}
        stale = [c for c in channel_ids
                 if c.startswith((LEG_PREFIX, SNOOP_PREFIX)) and c not in known]
        for channel_id in stale:
            await self._quietly(self.control.hangup(channel_id))
        for bridge_id in bridge_ids:
            if bridge_id.startswith(BRIDGE_PREFIX) and bridge_id not in known_bridges:
                await self._quietly(self.control.destroy_bridge(bridge_id))
                stale.append(bridge_id)
        return len(stale)

    # ----------------------------------------------------------- helpers --
    def _get(self, monitor_id: str) -> MonitorSession:
        session = self.sessions.get(monitor_id)
        if session is None or session.state is MonitorState.ENDED:
            raise _not_monitored(monitor_id, field="monitor_id")
        return session

    def _extension(self, supervisor: str, extension: str | None,
                   agent: AgentSession) -> str:
        ext = extension or self.last_extension.get(supervisor)
        if not ext:
            raise InvalidRequest("extension", "the supervisor's phone extension is required")
        if not ext.isdigit() or not 2 <= len(ext) <= 8:
            raise InvalidRequest("extension", "must be 2 to 8 digits, e.g. 1037")
        if ext == agent.extension or any(s.extension == ext for s in self.agents.of_all()):
            raise InvalidRequest("extension", f"{ext} is an agent's logged-in phone")
        if any(m.extension == ext for m in self.live()):
            raise _conflict("extension", f"{ext} is already monitoring a call")
        return ext

    async def _connect(self, session: MonitorSession, agent: AgentSession) -> None:
        answered = self._expect(session.leg_id)
        try:
            await self.control.originate(
                self.endpoint_template.format(extension=session.extension),
                channel_id=session.leg_id, app_args=f"{LEG_ARG},{session.monitor_id}",
                timeout_s=self.answer_timeout_s,
                caller_id=f"Monitor <{session.call_id[-12:]}>",
            )
            ok = await self._wait(session.leg_id, answered, self.answer_timeout_s + 5)
        except TelephonyError as exc:
            raise AgentPhoneUnavailable(session.extension, "the phone could not be called",
                                        detail=str(exc)) from None
        if session.state is MonitorState.ENDED:
            return
        if not ok:
            raise AgentPhoneUnavailable(session.extension, "the supervisor's phone did not answer")
        await self.control.create_bridge(session.bridge_id, name=f"monitor-{session.supervisor}")
        await self.control.add_to_bridge(session.bridge_id, session.leg_id)
        async with self._lock:
            if session.state is MonitorState.ENDED:
                return
            await self._apply(session, session.mode, agent)

    async def _switch(self, session: MonitorSession, mode: MonitorMode) -> MonitorSession:
        if session.mode is mode or session.state is not MonitorState.ACTIVE:
            return session
        _, agent = self._live_call(session.call_id)
        await self._apply(session, mode, agent)
        session.mode = mode
        session.switches += 1
        self._publish(session, "mode_changed")
        log.info("monitor %s: now %s", session.monitor_id, mode.value)
        return session

    async def _apply(self, session: MonitorSession, mode: MonitorMode,
                     agent: AgentSession) -> None:
        """Put the supervisor's leg where ``mode`` wants it; old snoop hung up last."""
        old_snoop = session.snoop_id
        if mode is MonitorMode.BARGE:
            if not session.in_call_bridge:
                await self._quietly(self.control.remove_from_bridge(session.bridge_id,
                                                                    session.leg_id))
                await self.control.add_to_bridge(agent.bridge_id, session.leg_id)
                session.in_call_bridge = True
            session.snoop_id = None
        else:
            session.snoop_id = await self._snoop(session, agent, mode)
            if session.in_call_bridge:
                await self._quietly(self.control.remove_from_bridge(agent.bridge_id,
                                                                    session.leg_id))
                await self.control.add_to_bridge(session.bridge_id, session.leg_id)
                session.in_call_bridge = False
        if old_snoop:
            await self._quietly(self.control.hangup(old_snoop))

    async def _snoop(self, session: MonitorSession, agent: AgentSession,
                     mode: MonitorMode) -> str:
        snoop_id = f"{SNOOP_PREFIX}{session.monitor_id}-{session.switches}-{mode.value}"
        started = self._expect(snoop_id)
        await self.control.snoop(
            agent.leg_id, snoop_id=snoop_id, spy="both",
            whisper="out" if mode is MonitorMode.WHISPER else "none",
            app_args=f"{SNOOP_ARG},{session.monitor_id}")
        if not await self._wait(snoop_id, started, self.snoop_timeout_s):
            raise _conflict("call_id", "the agent's leg could not be snooped (call gone?)")
        await self.control.add_to_bridge(session.bridge_id, snoop_id)
        return snoop_id

    def _expect(self, channel_id: str) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._started[channel_id] = future
        return future

    async def _wait(self, channel_id: str, future: asyncio.Future[bool], timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return False
        finally:
            self._started.pop(channel_id, None)

    async def _teardown(self, session: MonitorSession, reason: str, publish: bool = True) -> None:
        if session.state is MonitorState.ENDED:
            return
        was_active = session.state is MonitorState.ACTIVE
        session.state = MonitorState.ENDED
        session.end_reason = reason
        future = self._started.get(session.leg_id)
        if future is not None and not future.done():
            future.set_result(False)
        for action in (self.control.hangup(session.leg_id),
                       *([self.control.hangup(session.snoop_id)] if session.snoop_id else []),
                       self.control.destroy_bridge(session.bridge_id)):
            await self._quietly(action)
        self._by_leg.pop(session.leg_id, None)
        if publish and was_active:
            self._publish(session, "ended", reason)
        log.info("monitor %s (call %s): ended: %s", session.monitor_id, session.call_id, reason)

    async def _quietly(self, action: Coroutine[Any, Any, Any]) -> None:
        try:
            await action
        except AriNotFound:
            pass
        except TelephonyError as exc:
            log.info("monitor: %s", exc)

    def _publish(self, session: MonitorSession, change: str, reason: str | None = None) -> None:
        self.publisher.publish(MonitorChanged(
            session.monitor_id, session.call_id, session.supervisor, session.actor_ref,
            session.extension, session.mode.value, change, self.clock.now(), reason))


def _mode(mode: str) -> MonitorMode:
    try:
        return MonitorMode(mode)
    except ValueError:
        raise InvalidRequest("mode", "must be listen, whisper or barge") from None


def _conflict(field: str, message: str) -> Conflict:
    error = Conflict(message)
    error.field = field
    return error


class MonitorNotFound(NotFound):
    code = "monitor_not_found"

    def __init__(self, ident: str, field: str) -> None:
        super().__init__(f"{field} {ident!r}: no active monitor")
        self.field = field


def _not_monitored(ident: str, field: str = "call_id") -> MonitorNotFound:
    return MonitorNotFound(ident, field)
