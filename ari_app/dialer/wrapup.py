"""Wrap-up: the agent's disposition after a call, time-limited per campaign."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from ari_app.dialer import events as ev
from ari_app.dialer.agents import AgentDesk
from ari_app.dialer.calls import CallDesk
from ari_app.dialer.errors import Conflict, DialerUseCaseError, InvalidRequest
from ari_app.dialer.model import AgentSession, AgentState, CampaignConfig, Outcome
from ari_app.dialer.ports import Clock, DispositionCode, DispositionSource
from ari_app.dialer.store import DialerStore
from crm.domain.callbacks import CallbackScope, callback_owner

log = logging.getLogger(__name__)

DEFAULT_WRAP_UP_S = 60.0
# the codes accepted when the CRM has none for a campaign (or cannot be asked)
BUILT_IN = (DispositionCode("sale", "success"), DispositionCode("callback", "callback"),
            DispositionCode("not_interested", "contact"), DispositionCode("do_not_call", "dnc"),
            DispositionCode("wrong_number", "no_contact"))
DISPOSITIONS = tuple(c.code for c in BUILT_IN)

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


class WrapUp:
    def __init__(self, agents: AgentDesk, calls: CallDesk, store: DialerStore, clock: Clock,
                 config_of: Callable[[str], CampaignConfig], spawn: Spawn,
                 codes: DispositionSource | None = None) -> None:
        self.codes = codes
        self.agents = agents
        self.calls = calls
        self.store = store
        self.clock = clock
        self.config_of = config_of
        self.spawn = spawn
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.on_wrap: list[Callable[[str, float], None]] = []  # (campaign id, wrap seconds)

    def limit(self, campaign_id: str) -> float:
        """The campaign's wrap-up limit (seconds)."""
        try:
            return self.config_of(campaign_id).wrap_up_limit_s
        except DialerUseCaseError:  # the campaign is not (or no longer) configured here
            return DEFAULT_WRAP_UP_S

    def deadline(self, session: AgentSession) -> float | None:
        """When a session in wrap-up goes back to ready by itself (None: not in wrap-up)."""
        if session.state is not AgentState.WRAP_UP:
            return None
        return session.since + self.limit(session.campaign_id)

    def arm(self, session: AgentSession) -> None:
        self.cancel(session.agent_id)
        limit = self.limit(session.campaign_id)
        call_id = session.call_id or ""
        self._timers[session.agent_id] = asyncio.get_running_loop().call_later(
            limit, lambda: self.spawn(self._expire(session.agent_id, call_id),
                                      f"wrapup-{session.agent_id}"),
        )

    def cancel(self, agent_id: str) -> None:
        timer = self._timers.pop(agent_id, None)
        if timer is not None:
            timer.cancel()

    async def code(self, campaign_id: str | None, disposition: str) -> DispositionCode:
        """``disposition`` as ``campaign_id`` accepts it (the CRM's codes; the built-in ones
        when it has none or cannot be asked); InvalidRequest names the accepted codes."""
        codes: Sequence[DispositionCode] = ()
        if self.codes is not None and campaign_id:
            try:
                codes = await self.codes.dispositions(campaign_id)
            except Exception as exc:  # noqa: BLE001 - the CRM unreachable: the built-in codes
                log.warning("campaign %s: disposition codes unavailable (%s); built-in codes",
                            campaign_id, exc)
        codes = codes or BUILT_IN
        found = next((c for c in codes if c.code == disposition), None)
        if found is None:
            raise InvalidRequest("disposition",
                                 f"must be one of {', '.join(c.code for c in codes)}")
        return found

    async def dispose(self, agent_id: str, disposition: str, *, callback_at: datetime | None,
                      note: str | None, pause_code: str | None,
                      callback_scope: str | None = None) -> None:
        session = self.agents.get(agent_id)
        code = await self.code(session.campaign_id, disposition)
        if session.state is not AgentState.WRAP_UP or not session.call_id:
            raise Conflict(f"agent {agent_id} is {session.state.value}, not in wrap-up")
        when = _check_callback(code.category, callback_at, self.clock.now())
        if callback_scope is not None and callback_scope not in set(CallbackScope):
            raise InvalidRequest("callback_scope", "must be personal or campaign")
        call = self.calls.calls.get(session.call_id)
        if call is None:
            raise Conflict(f"call {session.call_id} is no longer known")
        self.cancel(agent_id)
        now = self.clock.now()
        await self.calls.emit(ev.disposition_set(
            call.call_id, now, disposition, now - session.since, agent_id, when, note))
        owner = callback_owner(callback_scope, agent_id) if when else None
        await self.calls.record_attempt(call, Outcome.ANSWERED, disposition, when, owner)
        if code.category == "dnc":
            await self.store.append(f"dnc-{call.call_id}", "dnc", {
                "number": call.number, "campaign_id": None,
                "reason": f"customer asked (call {call.call_id}, agent {agent_id})",
            })
        await self._close(session, call.call_id, pause_code)

    async def _expire(self, agent_id: str, call_id: str) -> None:
        self._timers.pop(agent_id, None)
        session = self.agents.sessions.get(agent_id)
        if session is None or session.state is not AgentState.WRAP_UP \
                or session.call_id != call_id:
            return
        call = self.calls.calls.get(call_id)
        log.info("agent %s: wrap-up limit reached on call %s; back to ready", agent_id, call_id)
        if call is not None:
            now = self.clock.now()
            await self.calls.emit(ev.CallEvent(
                "wrapup_ended", call_id, now,
                {"wrap_seconds": round(now - session.since, 3), "agent_id": agent_id,
                 "reason": "wrap-up time limit"}))
            await self.calls.record_attempt(call, Outcome.ANSWERED)
        await self._close(session, call_id, None)

    async def agent_gone(self, agent_id: str, call_id: str) -> None:
        """The agent logged out (or their phone dropped) in wrap-up: the answered call's attempt
        is recorded without a disposition, so the lead is not left claimed and un-attempted."""
        call = self.calls.calls.get(call_id)
        if call is None:
            return
        log.info("agent %s left wrap-up of call %s without a disposition", agent_id, call_id)
        await self.calls.record_attempt(call, Outcome.ANSWERED)
        self.calls.calls.pop(call_id, None)
        await self.store.drop_state("call", call_id)

    async def _close(self, session: AgentSession, call_id: str, pause_code: str | None) -> None:
        for hook in self.on_wrap:
            hook(session.campaign_id, self.clock.now() - session.since)
        self.calls.calls.pop(call_id, None)
        await self.store.drop_state("call", call_id)
        if pause_code:
            await self.agents.move(session, AgentState.PAUSED, pause_code=pause_code)
        else:
            await self.agents.move(session, AgentState.READY)


def _check_callback(category: str, callback_at: datetime | None, now: float) -> str | None:
    if category != "callback":
        return None
    if callback_at is None:
        raise InvalidRequest("callback_at", "a callback needs a date and time")
    if callback_at.tzinfo is None:
        raise InvalidRequest("callback_at", "give a time zone (e.g. +08:00)")
    if callback_at.timestamp() <= now:
        raise InvalidRequest("callback_at", "must be in the future")
    return callback_at.isoformat()
