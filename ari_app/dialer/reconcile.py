"""Reconciling what the dialer remembers with what Asterisk has, after any gap.

Runs on every (re)connection of the ARI events socket, in event order: on the
first one it loads the persisted state (calls in flight, agent sessions,
running campaigns) of a previous process; then it checks each call and agent
leg against ARI's channels and bridges. A call whose channel is gone is closed
at Asterisk's hang-up time when Asterisk kept it (its events were lost with the gap)
and says so (``closed_by``, ``end_source``); an agent whose leg is
gone is logged out and invited again; a call still up is adopted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from ari_app.ari import Reconnected
from ari_app.dialer.agents import AgentDesk
from ari_app.dialer.calls import CallDesk
from ari_app.dialer.campaigns import HOPPER_STATE
from ari_app.dialer.errors import DialerUseCaseError
from ari_app.dialer.events import AgentStateChanged
from ari_app.dialer.model import (
    AgentState,
    CallAttempt,
    CallPhase,
    CampaignConfig,
    DialMode,
    MachineAction,
    Outcome,
)
from ari_app.dialer.ports import CallControl, Clock, LeadSource, Publisher
from ari_app.dialer.store import DialerStore
from ari_app.errors import TelephonyError

log = logging.getLogger(__name__)


def call_from_state(body: dict[str, Any]) -> CallAttempt:
    body = dict(body)
    body["phase"] = CallPhase(body["phase"])
    body["outcome"] = Outcome(body["outcome"]) if body.get("outcome") else None
    return CallAttempt(**body)


def config_from_state(body: dict[str, Any]) -> CampaignConfig:
    body = dict(body)
    body["mode"] = DialMode(body["mode"])
    body["machine_action"] = MachineAction(body["machine_action"])
    return CampaignConfig(**body)


RESTART_WINDOW_S = 120.0  # agent legs dropped this long before an Asterisk restart: re-invite


class Reconciled(Protocol):
    """What the reconciler checks and repairs (the dialer, :class:`ari_app.dialer.engine.
    Dialer`, is one): its desks, ports and store, and how it runs campaigns and tasks."""

    @property
    def worker(self) -> str: ...
    @property
    def control(self) -> CallControl: ...
    @property
    def store(self) -> DialerStore: ...
    @property
    def leads(self) -> LeadSource: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def calls(self) -> CallDesk: ...
    @property
    def agents(self) -> AgentDesk: ...

    def run_campaign(self, config: CampaignConfig) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[Any]: ...


class Reconciler:
    def __init__(self, dialer: Reconciled) -> None:
        self.dialer = dialer
        self.loaded = False
        self.runs = 0
        self.asterisk_started: str | None = None
        self.asterisk_restarts = 0
        # set once the first reconciliation has run (what a previous process left is adopted):
        # who acts on agents at start-up (the demo) waits for it rather than log them in twice
        self.first_done = asyncio.Event()

    async def reconcile(self, marker: Reconnected) -> None:
        try:
            await self._reconcile(marker)
        finally:
            self.first_done.set()

    async def _reconcile(self, marker: Reconnected) -> None:
        d = self.dialer
        if not self.loaded:
            await self._load()
            self.loaded = True
        # taken before listing: a call not originating now has its channel created already
        # (if it still exists, the list has it); one originating may not be listed yet
        d.calls.reconciled += 1
        known = [c for c in d.calls.calls.values() if c.phase is not CallPhase.ENDED]
        originating = set(d.calls.originating)
        try:
            channels = {c.id for c in await d.control.list_channels()}
            bridges = {b.id for b in await d.control.list_bridges()}
        except TelephonyError as exc:
            log.error("reconcile: cannot list channels/bridges: %s", exc)
            return
        self.runs += 1
        restarted = await self._asterisk_restarted()
        await self._calls(known, originating, channels)
        await self._agents(channels, bridges)
        if restarted:
            self._reinvite_dropped()
        log.info("reconciled (connection %d): %d calls, %d agents", marker.count,
                 len(d.calls.calls), len(d.agents.of_all()))

    async def _asterisk_restarted(self) -> bool:
        try:
            info = await self.dialer.control.asterisk_info()
        except TelephonyError:
            return False
        started = info.startup_time
        restarted = self.asterisk_started is not None and started != self.asterisk_started
        self.asterisk_started = started
        if restarted:
            self.asterisk_restarts += 1
            log.warning("Asterisk restarted (started %s): closing lost calls, re-inviting agents",
                        started)
        return restarted

    def _reinvite_dropped(self) -> None:
        """Agent legs that 'hung up' just before the restart were cut by Asterisk going down."""
        d = self.dialer
        now = d.clock.now()
        for agent_id, (session, when) in list(d.agents.dropped.items()):
            del d.agents.dropped[agent_id]
            current = d.agents.sessions.get(agent_id)
            if now - when > RESTART_WINDOW_S or (
                    current is not None and current.state is not AgentState.LOGGED_OUT):
                continue
            d.spawn(self._reinvite(agent_id, session.extension, session.campaign_id),
                    f"reinvite-{agent_id}")

    async def _load(self) -> None:
        d = self.dialer
        calls = await d.store.load_state("call")
        await self._release_stale_claims({str(body.get("lead_id")) for body in calls.values()})
        for body in (await d.store.load_state("campaign")).values():
            d.run_campaign(config_from_state(body))
        for call_id, body in calls.items():
            if call_id not in d.calls.calls:
                d.calls.calls[call_id] = call_from_state(body)
        await d.agents.load()

    async def _release_stale_claims(self, dialed: set[str]) -> None:
        """Leads the previous process claimed but never dialed go back to the CRM now (not
        when their claim expires); the leads of persisted calls stay with their calls."""
        d = self.dialer
        for campaign_id, body in (await d.store.load_state(HOPPER_STATE)).items():
            stale = [i for i in body.get("lead_ids", []) if i not in dialed]
            try:
                if stale:
                    await d.leads.release(stale, d.worker)
                    log.info("campaign %s: released %d leads claimed before the restart",
                             campaign_id, len(stale))
            except Exception as exc:  # noqa: BLE001 - the claims then expire on their own
                log.warning("campaign %s: releasing old claims failed: %s", campaign_id, exc)
            await d.store.drop_state(HOPPER_STATE, campaign_id)

    async def _calls(self, known: list[CallAttempt], originating: set[str],
                     channels: set[str]) -> None:
        d = self.dialer
        for call in known:  # ended ones wait for their agent's disposition
            if call.phase is CallPhase.ENDED or call.call_id in originating:
                continue  # originating: maybe not listed yet; place() subscribes to it
            if call.call_id in channels:
                # a channel originated while our app was not registered (Asterisk had just
                # restarted) has no subscription: without one, its ChannelDestroyed would
                # never reach us once it leaves Stasis, and the call would never end
                await d.calls.subscribe(call)
                if call.phase is CallPhase.WAITING_AGENT:
                    await d.calls.abandon(call.call_id)
                continue
            log.warning("call %s: gone during a gap; closing it", call.call_id)
            await d.calls.close_gone(call, "reconcile")

    async def _agents(self, channels: set[str], bridges: set[str]) -> None:
        d = self.dialer
        for session in d.agents.of_all():
            if session.state is AgentState.CONNECTING:
                continue  # a login in progress: its own wait decides
            if session.leg_id in channels and session.bridge_id in bridges:
                await self._fix_agent_call(session)
                continue
            previous = session.state
            await d.agents.forget(session)
            d.publisher.publish(AgentStateChanged(
                session.agent_id, session.campaign_id, previous, AgentState.LOGGED_OUT,
                d.clock.now()))
            log.warning("agent %s: phone leg gone; inviting the phone again", session.agent_id)
            d.spawn(self._reinvite(session.agent_id, session.extension, session.campaign_id),
                    f"reinvite-{session.agent_id}")

    async def _fix_agent_call(self, session: Any) -> None:
        d = self.dialer
        call = d.calls.calls.get(session.call_id or "")
        if session.state is AgentState.ON_CALL and (call is None or call.phase is CallPhase.ENDED):
            await d.agents.move(session, AgentState.WRAP_UP)
        elif session.state is AgentState.RESERVED and call is None:
            await d.agents.move(session, AgentState.READY)

    async def _reinvite(self, agent_id: str, extension: str, campaign_id: str) -> None:
        try:
            await self.dialer.agents.login(agent_id, extension, campaign_id)
        except (DialerUseCaseError, TelephonyError) as exc:
            log.warning("agent %s: re-invite failed: %s", agent_id, exc)
