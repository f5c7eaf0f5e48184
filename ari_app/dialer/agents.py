"""Agent sessions with a nailed-up leg.

Login calls the agent's phone once; the answered leg goes into the agent's own
holding bridge and stays there across calls, so a customer who answers is
moved into that bridge with zero ring time to the agent. The agent hanging up
their phone logs them out cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict

from ari_app.ari import AriEvent
from ari_app.dialer.errors import AgentNotFound, AgentPhoneUnavailable, InvalidRequest
from ari_app.dialer.events import AgentStateChanged
from ari_app.dialer.model import AgentSession, AgentState
from ari_app.dialer.ports import CallControl, Clock, Publisher
from ari_app.dialer.store import DialerStore
from ari_app.errors import AriNotFound, AriRequestFailed, TelephonyError

log = logging.getLogger(__name__)

LEG_ARG = "agent"


class AgentDesk:
    """Owns every :class:`AgentSession`; all state changes go through :meth:`move`."""

    def __init__(self, control: CallControl, store: DialerStore, publisher: Publisher,
                 clock: Clock, endpoint_template: str = "PJSIP/{extension}",
                 login_timeout_s: int = 30) -> None:
        self.control = control
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.endpoint_template = endpoint_template
        self.login_timeout_s = login_timeout_s
        self.sessions: dict[str, AgentSession] = {}
        self._by_leg: dict[str, str] = {}
        self._answered: dict[str, asyncio.Future[bool]] = {}
        self.on_change: list[Callable[[AgentSession, AgentState], None]] = []
        # when a session's state ends by itself (the engine sets it: the wrap-up limit)
        self.until_of: Callable[[AgentSession], float | None] = lambda session: None
        # agent_id -> (session, when): legs that hung up, in case Asterisk was going down
        self.dropped: dict[str, tuple[AgentSession, float]] = {}

    # ------------------------------------------------------------ queries --
    def get(self, agent_id: str) -> AgentSession:
        session = self.sessions.get(agent_id)
        if session is None or session.state is AgentState.LOGGED_OUT:
            raise AgentNotFound(agent_id)
        return session

    def by_leg(self, channel_id: str) -> AgentSession | None:
        agent_id = self._by_leg.get(channel_id)
        return self.sessions.get(agent_id) if agent_id else None

    def ready(self, campaign_id: str) -> list[AgentSession]:
        """Ready agents of a campaign, longest idle first."""
        found = [s for s in self.sessions.values()
                 if s.campaign_id == campaign_id and s.state is AgentState.READY]
        return sorted(found, key=lambda s: s.since)

    def of_campaign(self, campaign_id: str) -> list[AgentSession]:
        return [s for s in self.sessions.values()
                if s.campaign_id == campaign_id and s.state is not AgentState.LOGGED_OUT]

    # ------------------------------------------------------------ changes --
    async def move(self, session: AgentSession, to: AgentState, *,
                   pause_code: str | None = None, call_id: str | None = None) -> None:
        previous = session.move(to, self.clock.now(), pause_code=pause_code)
        if call_id is not None:
            session.call_id = call_id
        if to is AgentState.LOGGED_OUT:
            await self.store.drop_state("agent", session.agent_id)
            self._by_leg.pop(session.leg_id, None)
        else:
            await self.store.save_state("agent", session.agent_id, asdict(session))
        self.publisher.publish(AgentStateChanged(
            session.agent_id, session.campaign_id, previous, to, session.since,
            session.pause_code, session.call_id, self.until_of(session),
        ))
        for hook in self.on_change:
            hook(session, previous)

    async def login(self, agent_id: str, extension: str, campaign_id: str,
                    paused: bool = False, senior: bool = False) -> AgentSession:
        current = self.sessions.get(agent_id)
        if current is not None and current.state is not AgentState.LOGGED_OUT:
            raise InvalidRequest("agent_id", f"agent {agent_id} is already logged in")
        if not extension.isdigit():
            raise InvalidRequest("extension", "must be digits, e.g. 1001")
        leg_id = f"agent-{agent_id}-{uuid.uuid4().hex[:12]}"
        session = AgentSession(agent_id, extension, campaign_id, leg_id,
                               bridge_id=f"agentbridge-{agent_id}", since=self.clock.now(),
                               senior=senior)
        self.sessions[agent_id] = session
        self._by_leg[leg_id] = agent_id
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._answered[leg_id] = answered
        try:
            await self._call_phone(session, answered)
        except BaseException:
            self._by_leg.pop(leg_id, None)
            session.state = AgentState.LOGGED_OUT
            raise
        finally:
            self._answered.pop(leg_id, None)
        if session.state is not AgentState.CONNECTING:  # the leg hung up meanwhile
            raise AgentPhoneUnavailable(extension, "the phone hung up during login")
        await self.move(session, AgentState.PAUSED if paused else AgentState.READY,
                        pause_code="login" if paused else None)
        log.info("agent %s logged in on %s (campaign %s)", agent_id, extension, campaign_id)
        return session

    async def _call_phone(self, session: AgentSession, answered: asyncio.Future[bool]) -> None:
        endpoint = self.endpoint_template.format(extension=session.extension)
        try:
            await self.control.originate(
                endpoint, channel_id=session.leg_id, app_args=f"{LEG_ARG},{session.agent_id}",
                timeout_s=self.login_timeout_s, caller_id=f"Dialer <{session.campaign_id[:20]}>",
            )
        except TelephonyError as exc:
            raise AgentPhoneUnavailable(session.extension, "the phone could not be called",
                                        detail=str(exc)) from None
        try:
            async with asyncio.timeout(self.login_timeout_s + 5):
                ok = await answered
        except TimeoutError:
            ok = False
        if not ok:
            raise AgentPhoneUnavailable(session.extension, "the phone did not answer")
        try:
            await self.control.create_bridge(session.bridge_id, name=f"agent-{session.agent_id}")
        except AriRequestFailed as exc:
            if exc.status != 409:  # 409: the agent's bridge survived a restart; reuse it
                raise
        await self.control.add_to_bridge(session.bridge_id, session.leg_id)

    async def logout(self, agent_id: str) -> None:
        session = self.get(agent_id)
        await self.move(session, AgentState.LOGGED_OUT)
        await self._release_leg(session)

    async def _release_leg(self, session: AgentSession) -> None:
        for action in (self.control.hangup(session.leg_id),
                       self.control.destroy_bridge(session.bridge_id)):
            try:
                await action
            except AriNotFound:
                pass
            except TelephonyError as exc:
                log.warning("agent %s: releasing leg: %s", session.agent_id, exc)

    # ------------------------------------------------------------- events --
    async def on_stasis_start(self, event: AriEvent) -> None:
        future = self._answered.get(event.channel_id or "")
        if future is not None and not future.done():
            future.set_result(True)

    async def on_leg_gone(self, event: AriEvent) -> bool:
        """The agent's leg ended: a failed login, or the agent hung up. True if it was ours."""
        channel_id = event.channel_id or ""
        future = self._answered.get(channel_id)
        if future is not None and not future.done():
            future.set_result(False)
            return True
        session = self.by_leg(channel_id)
        if session is None or session.state is AgentState.LOGGED_OUT:
            return False
        log.info("agent %s hung up their phone: logging out", session.agent_id)
        self.dropped[session.agent_id] = (session, self.clock.now())
        await self.move(session, AgentState.LOGGED_OUT)
        try:
            await self.control.destroy_bridge(session.bridge_id)
        except TelephonyError:
            pass
        return True

    # ----------------------------------------------------- reconciliation --
    def of_all(self) -> list[AgentSession]:
        return [s for s in self.sessions.values() if s.state is not AgentState.LOGGED_OUT]

    async def load(self) -> None:
        """Take the persisted sessions of a previous process (reconciled by the caller)."""
        for agent_id, body in (await self.store.load_state("agent")).items():
            if agent_id in self.sessions:
                continue
            body = dict(body)
            body["state"] = AgentState(body["state"])
            session = AgentSession(**body)
            self.sessions[agent_id] = session
            self._by_leg[session.leg_id] = agent_id

    async def forget(self, session: AgentSession) -> None:
        """The leg vanished without us seeing it: mark the session logged out, quietly."""
        session.state = AgentState.LOGGED_OUT
        session.since = self.clock.now()
        self._by_leg.pop(session.leg_id, None)
        await self.store.drop_state("agent", session.agent_id)
