"""Hold and mute on an agent's live call (issue 13 item 5).

Hold takes the customer out of the agent's bridge and plays them music on hold from one of
Asterisk's own classes (``musiconhold.conf``); unhold stops the music and bridges them back.
The agent stays in their nailed-up bridge meanwhile. Mute stops the agent's audio toward the
customer (the agent leg's ``in`` direction: what the phone sends). Hold time is kept on the
call (:attr:`CallAttempt.hold_seconds`) and sent with its ``ended`` event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ari_app.dialer.agents import AgentDesk
from ari_app.dialer.calls import CallDesk
from ari_app.dialer.errors import Conflict
from ari_app.dialer.model import AgentSession, AgentState, CallAttempt, CallPhase
from ari_app.dialer.ports import CallControl, Clock

log = logging.getLogger(__name__)

MOH_CLASS = "default"


class HoldDesk:
    def __init__(self, control: CallControl, agents: AgentDesk, calls: CallDesk,
                 clock: Clock, spawn: Callable[[Coroutine[Any, Any, None], str], object],
                 moh_class: str = MOH_CLASS) -> None:
        self.control = control
        self.agents = agents
        self.calls = calls
        self.clock = clock
        self.moh_class = moh_class
        self.spawn = spawn
        calls.on_ending.append(self.call_ending)

    def _live(self, agent_id: str) -> tuple[AgentSession, CallAttempt]:
        """The agent's connected call; Conflict (409) when there is none."""
        session = self.agents.get(agent_id)
        call = self.calls.calls.get(session.call_id or "")
        if (session.state is not AgentState.ON_CALL or call is None
                or call.phase is not CallPhase.CONNECTED):
            raise Conflict(f"agent {agent_id} is not on a call", field="call_id")
        return session, call

    async def hold(self, agent_id: str) -> CallAttempt:
        session, call = self._live(agent_id)
        if call.held_since is not None:
            raise Conflict(f"call {call.call_id} is already on hold", field="hold")
        await self.control.remove_from_bridge(session.bridge_id, call.call_id)
        await self.control.start_moh(call.call_id, self.moh_class)
        call.held_since = self.clock.now()
        await self.calls.persist(call)
        log.info("call %s: on hold by %s", call.call_id, agent_id)
        return call

    async def unhold(self, agent_id: str) -> CallAttempt:
        session, call = self._live(agent_id)
        if call.held_since is None:
            raise Conflict(f"call {call.call_id} is not on hold", field="hold")
        await self.control.stop_moh(call.call_id)
        await self.control.add_to_bridge(session.bridge_id, call.call_id)
        self._close_hold(call)
        await self.calls.persist(call)
        log.info("call %s: back from hold (%.1f s held in all)", call.call_id,
                 call.hold_seconds)
        return call

    async def mute(self, agent_id: str, muted: bool) -> CallAttempt:
        session, call = self._live(agent_id)
        if call.muted == muted:
            raise Conflict(f"call {call.call_id} is already {'muted' if muted else 'unmuted'}",
                           field="mute")
        if muted:
            await self.control.mute(session.leg_id, "in")
        else:
            await self.control.unmute(session.leg_id, "in")
        call.muted = muted
        await self.calls.persist(call)
        return call

    def _close_hold(self, call: CallAttempt) -> None:
        if call.held_since is not None:
            call.hold_seconds = call.hold_total(self.clock.now())
            call.held_since = None

    def call_ending(self, call: CallAttempt) -> None:
        """The call ends (customer gone or hung up): count an open hold; an agent's leg muted
        for it is unmuted (it is nailed up and carries the next call)."""
        self._close_hold(call)
        session = self.agents.sessions.get(call.agent_id or "")
        if call.muted and session is not None:
            call.muted = False
            self.spawn(self._unmute_quietly(session.leg_id), f"unmute-{call.call_id}")

    async def _unmute_quietly(self, leg_id: str) -> None:
        try:
            await self.control.unmute(leg_id, "in")
        except Exception as exc:  # the leg may be gone with the agent
            log.info("agent leg %s: unmute after the call: %s", leg_id, exc)
