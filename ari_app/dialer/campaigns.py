"""One running campaign: its hopper and its dialing loop (preview, progressive, predictive).

The loop wakes when something changes (an agent became ready, a call ended, the
mode changed) or at the pacing tick, and places the calls the mode asks for.
The hopper keeps a few claimed leads at hand; when the lead store has nothing
eligible it raises a visible alarm instead of idling silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from ari_app.dialer.abandons import AbandonLedger
from ari_app.dialer.agents import AgentDesk
from ari_app.dialer.callbacks import CallbackReserver
from ari_app.dialer.calls import CallDesk
from ari_app.dialer.events import CampaignAlarm, LeadsClaimed, ScreenPop
from ari_app.dialer.model import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallPhase,
    CampaignConfig,
    DialMode,
    IllegalTransition,
)
from ari_app.dialer.pacing import ModelPacing, Pacing, PacingView, RatioPacing
from ari_app.dialer.ports import AbandonCounts, Clock, Lead, LeadSource, Publisher
from ari_app.dialer.routing import pair_leads
from ari_app.dialer.store import DialerStore
from crm.domain.callbacks import ClaimFor
from predictive.pacing.brake import (
    AbandonWindow,
    BrakeDecision,
    BrakeInput,
    abandon_alarm,
    brake,
)

log = logging.getLogger(__name__)


HOPPER_STATE = "hopper"
ABANDON_ALARM = "abandon_rate"
CRM_READ_TIMEOUT_S = 2.0
AlarmHandler = Callable[[CampaignConfig, AbandonWindow, float], Awaitable[None]]


class Hopper:
    """Claimed leads at hand for one campaign.

    With a ``store``, the ids of the leads claimed and not yet known to be dialed are persisted
    (state ``hopper``), so that a restarted controller releases the claims of the killed one at
    once instead of leaving those leads locked until their claim expires."""

    def __init__(self, source: LeadSource, campaign_id: str, worker: str,
                 store: DialerStore | None = None) -> None:
        self.source = source
        self.campaign_id = campaign_id
        self.worker = worker
        self.store = store
        self.leads: deque[Lead] = deque()
        self.owned: list[Lead] = []  # personal callbacks given back: released, never pooled
        self.dry = False
        self.on_claimed: Callable[[Sequence[Lead]], None] | None = None
        self.presence: Callable[[], ClaimFor] | None = None  # who is logged in (callbacks)

    async def _claim(self, count: int, taking: int = 0) -> None:
        who = self.presence() if self.presence is not None else None
        claimed = await self.source.claim(self.campaign_id, self.worker, count, who)
        self.leads.extend(claimed)
        if claimed and self.on_claimed is not None:
            self.on_claimed(claimed)
        if claimed and self.store is not None:
            held = [lead.lead_id for lead in self.leads]  # includes the ones about to be taken
            await self.store.save_state(HOPPER_STATE, self.campaign_id, {"lead_ids": held})

    async def _release_owned(self) -> None:
        if self.owned:
            ids, self.owned = [lead.lead_id for lead in self.owned], []
            await self.source.release(ids, self.worker)

    async def fill(self, depth: int) -> None:
        """Keep at least ``depth`` claimed leads at hand (the pacing looks at them)."""
        await self._release_owned()
        if len(self.leads) < depth:
            await self._claim(depth - len(self.leads))
        self.dry = not self.leads

    async def take(self, count: int) -> list[Lead]:
        await self._release_owned()
        if len(self.leads) < count:
            await self._claim(max(count - len(self.leads), 2 * count))
        taken = [self.leads.popleft() for _ in range(min(count, len(self.leads)))]
        self.dry = count > 0 and not taken
        return taken

    def give_back(self, leads: list[Lead]) -> None:
        """Leads taken but not dialed (e.g. the agent left meanwhile) go back to the front."""
        self.owned.extend(lead for lead in leads if lead.owner)
        self.leads.extendleft(reversed([lead for lead in leads if not lead.owner]))

    async def release_all(self) -> None:
        await self._release_owned()
        if self.leads:
            await self.source.release([lead.lead_id for lead in self.leads], self.worker)
            self.leads.clear()
        if self.store is not None:
            await self.store.drop_state(HOPPER_STATE, self.campaign_id)


class CampaignRunner:
    def __init__(self, config: CampaignConfig, agents: AgentDesk, calls: CallDesk,
                 hopper: Hopper, publisher: Publisher, clock: Clock,
                 tick_s: float = 1.0, counts: AbandonCounts | None = None,
                 on_abandon_alarm: AlarmHandler | None = None) -> None:
        self.config = config
        self.agents = agents
        self.calls = calls
        self.hopper = hopper
        hopper.on_claimed = lambda leads: publisher.publish(LeadsClaimed(
            config.campaign_id, tuple(lead.customer_id for lead in leads), clock.now()))
        self.pacing: Pacing = ModelPacing() if config.pacing == "model" else RatioPacing()
        self.pacing_reason = ""
        self.publisher = publisher
        self.clock = clock
        self.tick_s = tick_s
        self.wake = asyncio.Event()
        self.offers: dict[str, Lead] = {}  # preview: agent_id -> offered lead
        self.hopper_alarm: str | None = None
        self.abandon_alarm: str | None = None  # raised until a manager resumes predictive
        self.ledger = AbandonLedger(config.abandon_window)  # the abandon brake's counts
        self.counts = counts
        self.on_abandon_alarm = on_abandon_alarm
        self.running = True
        self.callbacks = CallbackReserver(lambda: self.config, agents, hopper.source,
                                          hopper.worker, clock)
        hopper.presence = self.callbacks.presence

    @property
    def alarm(self) -> str | None:
        """The campaign's alarm: too many abandons first, else an empty hopper."""
        return self.abandon_alarm or self.hopper_alarm

    def reconfigure(self, config: CampaignConfig) -> None:
        if config.pacing != self.config.pacing:
            self.pacing = ModelPacing() if config.pacing == "model" else RatioPacing()
        if config.mode is DialMode.PREDICTIVE and self.config.mode is not DialMode.PREDICTIVE:
            # a manager resumed predictive dialling: the alarm is cleared, and the abandons
            # that raised it no longer count towards the next one
            self.abandon_alarm = None
            self.ledger.alarm_from = self.clock.now()
        if config.abandon_window != self.ledger.regulatory:
            self.ledger.regulatory = config.abandon_window
            self.ledger.read_at = float("-inf")  # read the CRM's counts over the new window
        self.config = config
        self.poke()

    def poke(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        while self.running:
            try:
                await self.step()
            except Exception:
                log.exception("campaign %s: dialing step failed", self.config.campaign_id)
            self.wake.clear()
            try:
                async with asyncio.timeout(self.tick_s):
                    await self.wake.wait()
            except TimeoutError:
                pass  # the pacing tick

    async def stop(self) -> None:
        self.running = False
        self.wake.set()
        for agent_id in list(self.offers):
            await self.withdraw_offer(agent_id)
        await self.hopper.release_all()

    async def step(self) -> None:
        mode = self.config.mode
        if mode is DialMode.PREVIEW:
            await self._preview()
        elif mode is DialMode.PROGRESSIVE:
            await self._progressive()
        else:
            await self._predictive()
        self._check_alarm()

    async def _reserve(self, ready: list[AgentSession]) -> list[tuple[AgentSession, Lead]]:
        """One lead per ready agent, each agent moved to reserved: their own due personal
        callback first, else a pooled lead; unused leads go back."""
        if not ready:
            return []
        mine = await self.callbacks.reserve(ready)
        given = {id(agent) for agent, _ in mine}
        try:
            # the pooled claim runs for every agent not given a callback, even one who left
            # ready during the callbacks' claim: it re-checks states after its own claim, and
            # the hopper learns whether it is dry (else the empty-hopper alarm is missed)
            return mine + await self._reserve_pooled([a for a in ready if id(a) not in given])
        except Exception:
            await self.callbacks.undo(mine)
            raise

    async def _reserve_pooled(self, ready: list[AgentSession]
                              ) -> list[tuple[AgentSession, Lead]]:
        if not ready:
            return []
        leads = await self.hopper.take(len(ready))
        still = [a for a in ready if a.state is AgentState.READY]  # changed while claiming?
        pairs: list[tuple[AgentSession, Lead]] = []
        try:
            for agent, lead in pair_leads(still, leads):  # senior leads to senior agents first
                if agent.state is not AgentState.READY:  # changed during an earlier move
                    continue
                await self.agents.move(agent, AgentState.RESERVED)
                pairs.append((agent, lead))
        except Exception:
            # e.g. the agent store failed: no agent stays reserved for a call never placed,
            # and no claimed lead is dropped (it would stay locked, undialed, until expiry)
            self.hopper.give_back(leads)
            for agent, _ in pairs:
                if agent.state is AgentState.RESERVED and agent.call_id is None:
                    try:
                        await self.agents.move(agent, AgentState.READY)
                    except Exception:  # noqa: BLE001 - the store again: at least in memory
                        agent.move(AgentState.READY, self.clock.now())
            raise
        paired = {id(lead) for _, lead in pairs}
        self.hopper.give_back([lead for lead in leads if id(lead) not in paired])
        return pairs

    async def _progressive(self) -> None:
        await self._place(await self._reserve(self.agents.ready(self.config.campaign_id)))

    async def _place(self, pairs: list[tuple[AgentSession, Lead]]) -> None:
        for i, (agent, lead) in enumerate(pairs):
            if agent.state is not AgentState.RESERVED:  # hung up while others were placed
                self.hopper.give_back([lead])
                continue
            try:
                await self.calls.place(lead, self.config, agent)
            except IllegalTransition:
                self.hopper.give_back([lead])
            except Exception:
                self.hopper.give_back([lead for _, lead in pairs[i + 1:]])
                raise

    async def _predictive(self) -> None:
        campaign = self.config.campaign_id
        agents = self.agents.of_campaign(campaign)
        if not agents:
            return
        # ready owners of due personal callbacks: dialed for them, outside the pooled pacing
        await self._place(await self.callbacks.reserve(self.agents.ready(campaign)))
        in_flight = self.calls.in_flight(campaign)
        await self.hopper.fill(10 + 2 * len(agents))
        await self._read_counts()
        if await self._check_abandons():
            return  # switched to progressive: the next step dials that way
        view = self._view(in_flight, agents)
        plan = self.pacing.plan(view)
        count = min(plan.count, self.config.max_lines - len(in_flight))
        if self.config.abandon_brake:
            braked = self._brake(count, in_flight, view)
            count = braked.count
            self.pacing_reason = plan.reason + (f"; {braked.reason}" if braked.reason else "")
        else:
            self.pacing_reason = plan.reason + "; abandon brake off"
        for lead in await self.hopper.take(count):
            await self.calls.place(lead, self.config)

    def _brake(self, count: int, in_flight: list[CallAttempt], view: PacingView) -> BrakeDecision:
        """The hard abandon brake over whatever the pacing said (no model overrides it)."""
        now = view.now
        rate, human = self.ledger.answer_rates(now)
        return brake(BrakeInput(
            proposed=count, free_agents=len(view.ready),
            ringing=sum(1 for c in in_flight if c.phase is CallPhase.DIALING),
            detecting=sum(1 for c in in_flight if c.phase is CallPhase.DETECTING),
            waiting=view.waiting, answer_rate=rate, human_rate=human,
            windows=self.ledger.windows(now), cap=self.config.abandon_target))

    async def _read_counts(self) -> None:
        """The CRM's abandon counts over the brake's windows, at start and every few minutes
        (bounded: a slow CRM must not hold the dialing; our own observations go on)."""
        now = self.clock.now()
        if self.counts is None or not self.ledger.due(now):
            return
        self.ledger.read_at = now
        campaign = self.config.campaign_id
        try:
            async with asyncio.timeout(CRM_READ_TIMEOUT_S):
                for name, span in self.ledger.spans().items():
                    answers, abandons = await self.counts.abandon_counts(campaign, now - span)
                    self.ledger.set_base(name, answers, abandons, now)
        except Exception as exc:  # noqa: BLE001 - the brake goes on with what it has
            log.warning("campaign %s: abandon counts from the CRM: %s", campaign, exc)

    async def _check_abandons(self) -> bool:
        """Too many abandons lately: alarm, a manager's to-do, and (per campaign) back to
        progressive until a manager resumes predictive. True when the mode was switched."""
        now = self.clock.now()
        recent = self.ledger.recent(now)
        alarming = abandon_alarm(recent, self.config.abandon_target)
        if self.abandon_alarm is not None or not alarming:
            if not alarming:  # still predictive (no pause asked): it clears when calm again
                self.abandon_alarm = None
            return False
        self.abandon_alarm = ABANDON_ALARM
        campaign = self.config.campaign_id
        message = (f"{recent.abandons} abandoned of {recent.live_answers} live answers in the "
                   f"last {recent.name} (cap {self.config.abandon_target:.1%})")
        log.warning("campaign %s: %s", campaign, message)
        if self.on_abandon_alarm is not None:
            await self.on_abandon_alarm(self.config, recent, now)
        # published after the handler: a board refreshed by it shows the switch to
        # progressive too (nothing else may happen on the campaign for a while)
        self.publisher.publish(CampaignAlarm(campaign, ABANDON_ALARM, message, now))
        return self.on_abandon_alarm is not None and self.config.mode is not DialMode.PREDICTIVE

    def _view(self, in_flight: list[CallAttempt], agents: list[AgentSession]) -> PacingView:
        dialing = [c for c in in_flight if c.phase in (CallPhase.DIALING, CallPhase.DETECTING)]
        return PacingView(
            config=self.config, now=self.clock.now(),
            ready=tuple((a.agent_id, a.since) for a in agents if a.state is AgentState.READY),
            busy=tuple((a.agent_id, a.state, a.since) for a in agents
                       if a.state in (AgentState.ON_CALL, AgentState.WRAP_UP)),
            in_flight=tuple((c.lead_id, c.p_answer, c.originated_at, c.list_id) for c in dialing),
            waiting=sum(1 for c in in_flight if c.phase is CallPhase.WAITING_AGENT),
            hopper=tuple((lead.lead_id, lead.p_answer, lead.list_id) for lead in self.hopper.leads),
            logged_in=len(agents), counters=self.calls.counters[self.config.campaign_id],
        )

    async def _preview(self) -> None:
        ready = [a for a in self.agents.ready(self.config.campaign_id)
                 if a.agent_id not in self.offers]
        pairs = await self._reserve(ready)
        if self.config.mode is not DialMode.PREVIEW:  # switched while we were claiming
            for agent, lead in pairs:
                self.hopper.give_back([lead])
                if agent.state is AgentState.RESERVED:
                    await self.agents.move(agent, AgentState.READY)
            return
        for agent, lead in pairs:
            self.offers[agent.agent_id] = lead
            self.publisher.publish(ScreenPop(
                agent.agent_id, "", lead.customer_id, lead.lead_id, lead.campaign_id,
                lead.number, "offered", self.clock.now(),
            ))

    async def accept(self, agent: AgentSession) -> str:
        lead = self.offers.pop(agent.agent_id)
        call = await self.calls.place(lead, self.config, agent)
        return call.call_id

    async def skip(self, agent: AgentSession, reason: str) -> None:
        lead = self.offers.pop(agent.agent_id)
        log.info("campaign %s: agent %s skipped lead %s (%s)",
                 self.config.campaign_id, agent.agent_id, lead.lead_id, reason)
        await self.hopper.source.release([lead.lead_id], self.hopper.worker)
        if agent.state is AgentState.RESERVED:
            await self.agents.move(agent, AgentState.READY)

    async def withdraw_offer(self, agent_id: str) -> None:
        lead = self.offers.pop(agent_id, None)
        if lead is not None:
            await self.hopper.source.release([lead.lead_id], self.hopper.worker)
        agent = self.agents.sessions.get(agent_id)
        if agent is not None and agent.state is AgentState.RESERVED and agent.call_id is None:
            await self.agents.move(agent, AgentState.READY)

    def _check_alarm(self) -> None:
        if self.hopper.dry and self.hopper_alarm is None:
            self.hopper_alarm = "hopper_empty"
            log.warning("campaign %s: the hopper is empty: no eligible lead to dial",
                        self.config.campaign_id)
            self.publisher.publish(CampaignAlarm(
                self.config.campaign_id, "hopper_empty",
                "no eligible lead to dial (all dialed, outside calling windows, DNC, or "
                "waiting for their retry time)", self.clock.now(),
            ))
        elif not self.hopper.dry and self.hopper_alarm is not None:
            self.hopper_alarm = None
