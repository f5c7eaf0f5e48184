"""Customer legs: originate, detect machines, connect to an agent or abandon, finish.

Every step that the CRM must know is appended to the durable outbox before the
desk moves on; nothing here talks to the CRM directly.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ari_app.ari import AriEvent
from ari_app.dialer import events as ev
from ari_app.dialer.agents import AgentDesk
from ari_app.dialer.model import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallPhase,
    CampaignConfig,
    MachineAction,
    Outcome,
    classify_outcome,
)
from ari_app.dialer.ports import CallControl, Clock, Lead, Publisher
from ari_app.dialer.routing import pick_agent
from ari_app.dialer.store import DialerStore
from ari_app.errors import TelephonyError
from ari_app.tasks import TaskSet

log = logging.getLogger(__name__)

CUSTOMER_ARG = "customer"
AMD_ARG = "amd"
OPTED_OUT = "opted_out"  # the opt-out key was pressed (ari_app.dialer.optout): extra's flag
CONFIRM_PREFIX = "optout"  # its confirmation's playback id: f"optout:{call_id}"
FINAL_DIAL = frozenset({"ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL",
                        "DONTCALL", "TORTURE", "INVALIDARGS"})


@dataclass
class CampaignCounters:
    dials: int = 0
    live_answers: int = 0
    abandons: int = 0
    machines: int = 0
    connects: int = 0


def event_time(event: AriEvent, now: float) -> float:
    """When Asterisk says the event happened (its ``timestamp``), on our wall clock; ``now``
    (the time we handle it) when it has none or when our clock is not a wall clock (tests).

    Under load the events queue up: stamping them when handled makes answers and hang-ups
    late (seen by the CDR cross-check), so durations use Asterisk's own times."""
    at = event.timestamp
    if at is None or now < 1e9:
        return now
    return at if abs(now - at) < 600 else now  # a clock far off: trust our own


class CallDesk:
    def __init__(self, control: CallControl, agents: AgentDesk, store: DialerStore,
                 publisher: Publisher, clock: Clock,
                 config_of: Callable[[str], CampaignConfig]) -> None:
        self.control = control
        self.agents = agents
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.config_of = config_of
        self.calls: dict[str, CallAttempt] = {}
        self.waiting: dict[str, list[str]] = defaultdict(list)
        self.counters: dict[str, CampaignCounters] = defaultdict(CampaignCounters)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks = TaskSet(log)  # abandon timers' and gone checks' tasks
        self.on_finished: list[Callable[[CallAttempt], None]] = []
        self.on_ending: list[Callable[[CallAttempt], None]] = []  # before its ended event
        self.on_live: list[Callable[[CallAttempt, bool], None]] = []  # (call, abandoned)
        # originates sent and not yet answered by ARI: reconciliation must not take their
        # channels, not listed yet, for lost ones
        self.originating: set[str] = set()
        self.reconciled = 0  # reconciliations so far (each after an events reconnect)
        self.gone_check_s = 5.0

    # -------------------------------------------------------------- outbox --
    async def emit(self, event: ev.CallEvent) -> None:
        await self.store.append(event.event_id, "call_events", event.payload())

    async def persist(self, call: CallAttempt) -> None:
        body = asdict(call)
        await self.store.save_state("call", call.call_id, body)

    def in_flight(self, campaign_id: str) -> list[CallAttempt]:
        return [c for c in self.calls.values()
                if c.campaign_id == campaign_id and c.phase is not CallPhase.ENDED]

    # --------------------------------------------------------------- place --
    async def place(self, lead: Lead, config: CampaignConfig,
                    agent: AgentSession | None = None) -> CallAttempt:
        now = self.clock.now()
        call = CallAttempt(f"call-{uuid.uuid4()}", config.campaign_id, lead.lead_id,
                           lead.customer_id, lead.number, originated_at=now,
                           agent_id=agent.agent_id if agent else None,
                           p_answer=lead.p_answer if lead.p_answer is not None else 0.3,
                           route=lead.route, list_id=lead.list_id)
        if agent is not None and agent.state is not AgentState.RESERVED:
            # before the call exists: an agent who hung up meanwhile raises here, and no
            # call is left on record without an origination (the caller gives the lead back)
            await self.agents.move(agent, AgentState.RESERVED, call_id=call.call_id)
        log.debug("call %s: lead %s, agent %s", call.call_id, lead.lead_id, call.agent_id)
        self.calls[call.call_id] = call
        self.originating.add(call.call_id)
        reconciled = self.reconciled
        try:
            await self._originate(call, lead, config, agent)
        finally:
            self.originating.discard(call.call_id)
        if self.reconciled != reconciled and call.phase is not CallPhase.ENDED:
            # the events socket reconnected while this call was being placed: Asterisk may
            # have taken the originate before our app was registered again, and then there
            # is no subscription (no ChannelDestroyed once the channel leaves Stasis)
            await self.subscribe(call)
        return call

    async def _originate(self, call: CallAttempt, lead: Lead, config: CampaignConfig,
                         agent: AgentSession | None) -> None:
        await self.persist(call)
        await self.emit(ev.originated(call))
        self.counters[config.campaign_id].dials += 1
        if agent is not None:
            agent.call_id = call.call_id
            self._pop(call, "ringing")
        try:
            await self.control.originate(
                config.endpoint(lead.number), channel_id=call.call_id, app_args=CUSTOMER_ARG,
                caller_id=config.caller_id or None, timeout_s=config.ring_timeout_s,
                formats="ulaw" if config.channel_template.startswith("Local/") else None,
                note_hangup=True,
            )
        except TelephonyError as exc:
            log.warning("call %s (campaign %s): originate failed: %s",
                        call.call_id, call.campaign_id, exc)
            call.extra["error"] = str(exc)[:200]
            await self.finish(call)

    async def subscribe(self, call: CallAttempt) -> None:
        """Make sure this call's events reach us; if its channel is gone already, make sure
        the call ends (its ChannelDestroyed may have been sent to nobody)."""
        try:
            await self.control.subscribe_channel(call.call_id)
        except TelephonyError as exc:
            log.info("call %s: subscribing to its channel: %s", call.call_id, exc)
            self._tasks.spawn(self._end_if_gone(call.call_id), f"gone-check-{call.call_id}")

    async def _end_if_gone(self, call_id: str) -> None:
        await asyncio.sleep(self.gone_check_s)  # a ChannelDestroyed in our queue comes first
        call = self.calls.get(call_id)
        if call is None or call.phase is CallPhase.ENDED:
            return
        try:
            channels = {c.id for c in await self.control.list_channels()}
        except TelephonyError:
            return  # Asterisk unreachable: the reconcile after it comes back decides
        if call_id not in channels:
            log.warning("call %s: its channel is gone and no event said so; closing it", call_id)
            await self.close_gone(call, "subscription_check")

    async def close_gone(self, call: CallAttempt, closed_by: str) -> None:
        """End a call whose channel vanished while nobody listened, at Asterisk's hang-up
        time if Asterisk kept it (the dialplan's hangup handler), else now; the record says
        how it was closed (``closed_by``) and whose end time it carries (``end_source``)."""
        at: float | None = None
        try:
            at = await self.control.hangup_time(call.call_id)
        except TelephonyError as exc:
            log.info("call %s: reading its hang-up time: %s", call.call_id, exc)
        now = self.clock.now()
        if at is not None and not (call.originated_at - 5 <= at <= now + 5):
            log.warning("call %s: Asterisk's hang-up time %.3f is implausible (now %.3f)",
                        call.call_id, at, now)
            at = None
        call.extra["closed_by"] = closed_by
        call.extra["end_source"] = "controller" if at is None else "asterisk"
        await self.finish(call, at=at)
        self._forget_hangup_time(call.call_id)

    def _forget_hangup_time(self, call_id: str) -> None:
        self._tasks.spawn(self._forget(call_id), f"forget-hangup-{call_id}")

    async def _forget(self, call_id: str) -> None:
        try:
            await self.control.forget_hangup_time(call_id)
        except TelephonyError as exc:
            log.debug("call %s: forgetting its hang-up time: %s", call_id, exc)

    def _pop(self, call: CallAttempt, state: str) -> None:
        if call.agent_id is None:
            return
        self.publisher.publish(ev.ScreenPop(
            call.agent_id, call.call_id, call.customer_id, call.lead_id, call.campaign_id,
            call.number, state, self.clock.now(),
        ))

    # -------------------------------------------------------------- events --
    async def on_stasis_start(self, event: AriEvent) -> None:
        call = self.calls.get(event.channel_id or "")
        if call is None or call.phase is CallPhase.ENDED:
            return
        config = self.config_of(call.campaign_id)
        if event.args[:1] == (CUSTOMER_ARG,):
            call.answered_at = event_time(event, self.clock.now())
            call.phase = CallPhase.DETECTING
            if config.amd:
                await self._guard(call, self.control.continue_in_dialplan(call.call_id,
                                                                          "dialer-amd"))
                return
            await self.on_human(call, config)
        elif event.args[:1] == (AMD_ARG,):
            call.amd_status = event.args[1] if len(event.args) > 1 else "NOTSURE"
            if call.amd_status != "MACHINE":
                call.handed_at = event_time(event, self.clock.now())
            if call.amd_status == "MACHINE":
                await self.on_machine(call, config)
            else:
                await self.on_human(call, config)

    async def on_dial(self, event: AriEvent) -> None:
        call = self.calls.get(event.channel_id or "")
        if call is not None and event.dial_status in FINAL_DIAL:
            call.dial_status = event.dial_status

    async def on_destroyed(self, event: AriEvent) -> None:
        call = self.calls.get(event.channel_id or "")
        if call is None or call.phase is CallPhase.ENDED:
            return
        call.hangup_cause = event.cause
        await self.finish(call, at=event_time(event, self.clock.now()))
        self._forget_hangup_time(call.call_id)  # kept for a gap; this event came through

    async def on_playback_finished(self, event: AriEvent) -> None:
        playback = event.playback_id or ""
        call_id = playback.split(":", 1)[1] if ":" in playback else ""
        call = self.calls.get(call_id)
        if call is not None and call.phase is CallPhase.MESSAGE \
                and not (OPTED_OUT in call.extra and not playback.startswith(CONFIRM_PREFIX)):
            await self._guard(call, self.control.hangup(call.call_id))

    # ------------------------------------------------------------- routing --
    async def on_human(self, call: CallAttempt, config: CampaignConfig) -> None:
        if call.handed_at is None:  # no AMD: handed on as it answered
            call.handed_at = call.answered_at or self.clock.now()
        await self.emit(ev.answered(call, call.answered_at or self.clock.now()))
        self.counters[call.campaign_id].live_answers += 1
        agent = self.agents.sessions.get(call.agent_id or "")
        if agent is not None and agent.state is AgentState.RESERVED \
                and agent.call_id == call.call_id:
            await self.connect(call, agent, config)
            return
        agent = pick_agent(self.agents.ready(call.campaign_id), call.route)
        if agent is not None:  # senior route: a ready senior first, else whoever is ready
            await self.connect(call, agent, config)
            return
        call.phase = CallPhase.WAITING_AGENT
        self.waiting[call.campaign_id].append(call.call_id)
        loop = asyncio.get_running_loop()
        self._timers[call.call_id] = loop.call_later(
            config.abandon_after_s, self._abandon_soon, call.call_id)

    def _abandon_soon(self, call_id: str) -> None:
        self._tasks.spawn(self.abandon(call_id), f"abandon-{call_id}")

    async def connect(self, call: CallAttempt, agent: AgentSession,
                      config: CampaignConfig) -> None:
        self._cancel_timer(call.call_id)
        call.agent_id = agent.agent_id
        await self.agents.move(agent, AgentState.ON_CALL, call_id=call.call_id)
        try:
            await self.control.add_to_bridge(agent.bridge_id, call.call_id)
        except TelephonyError as exc:
            log.warning("call %s: bridging to agent %s failed: %s",
                        call.call_id, agent.agent_id, exc)
            return  # the customer is gone; ChannelDestroyed finishes the call
        call.bridged_at = self.clock.now()
        call.phase = CallPhase.CONNECTED
        self.counters[call.campaign_id].connects += 1
        for hook in self.on_live:
            hook(call, False)
        await self.persist(call)
        await self.emit(ev.bridged(call))
        self._pop(call, "connected")
        if config.record:
            try:
                await self.control.record_bridge(agent.bridge_id, call.call_id)
                call.recording = call.call_id
            except TelephonyError as exc:
                log.warning("call %s: recording did not start: %s", call.call_id, exc)

    async def agent_available(self, agent: AgentSession) -> bool:
        """An agent became ready: give them the longest-waiting answered customer."""
        queue = self.waiting.get(agent.campaign_id)
        while queue:
            call = self.calls.get(queue.pop(0))
            if call is not None and call.phase is CallPhase.WAITING_AGENT:
                await self.connect(call, agent, self.config_of(call.campaign_id))
                return True
        return False

    async def abandon(self, call_id: str) -> None:
        self._timers.pop(call_id, None)
        call = self.calls.get(call_id)
        if call is None or call.phase is not CallPhase.WAITING_AGENT:
            return
        self._unqueue(call)
        call.abandoned = True
        call.phase = CallPhase.MESSAGE
        self.counters[call.campaign_id].abandons += 1
        for hook in self.on_live:
            hook(call, True)
        config = self.config_of(call.campaign_id)
        log.info("call %s (campaign %s): no agent within %.1f s: safe-harbour message",
                 call_id, call.campaign_id, config.abandon_after_s)
        await self._guard(call, self.control.play("channels", call_id, config.safe_harbour,
                                                  f"safeharbour:{call_id}"))

    async def on_machine(self, call: CallAttempt, config: CampaignConfig) -> None:
        self.counters[call.campaign_id].machines += 1
        await self._release_reserved(call)
        if config.machine_action is MachineAction.MESSAGE:
            # The dialplan waits for the end of the greeting, plays, hangs up (extensions.conf).
            call.phase = CallPhase.MESSAGE
            call.extra["machine_message"] = config.machine_message
            await self._guard(call, self.control.set_variable(
                call.call_id, "DIALCRM_MESSAGE", config.machine_message))
            await self._guard(call, self.control.continue_in_dialplan(
                call.call_id, "dialer-voicemail"))
        else:
            await self._guard(call, self.control.hangup(call.call_id))

    async def hangup(self, call_id: str) -> None:
        await self.control.hangup(call_id)

    # -------------------------------------------------------------- finish --
    async def finish(self, call: CallAttempt, at: float | None = None) -> Outcome:
        """End the call (``at``: when Asterisk says it ended, else now)."""
        call.ended_at = self.clock.now() if at is None else at
        call.phase = CallPhase.ENDED
        self._cancel_timer(call.call_id)
        self._unqueue(call)
        outcome = classify_outcome(
            answered=call.bridged_at is not None, dial_status=call.dial_status,
            cause=call.hangup_cause, amd_status=call.amd_status, abandoned=call.abandoned,
        )
        call.outcome = outcome
        for ending in self.on_ending:
            ending(call)
        if call.recording:
            await self._stop_recording(call)
        await self.emit(ev.ended(call, outcome))
        await self._release_agent(call)
        agent = self.agents.sessions.get(call.agent_id or "")
        in_wrap_up = agent is not None and agent.state is AgentState.WRAP_UP \
            and agent.call_id == call.call_id
        if outcome is not Outcome.ANSWERED or not in_wrap_up:
            # answered, but its agent is gone (hung up or logged out before the customer):
            # nobody will set a disposition, so the attempt is recorded now
            await self.record_attempt(call, outcome)
            await self.store.drop_state("call", call.call_id)
            self.calls.pop(call.call_id, None)
        else:
            await self.persist(call)  # kept until the agent sets the disposition
        for hook in self.on_finished:
            hook(call)
        return outcome

    async def record_attempt(self, call: CallAttempt, outcome: Outcome,
                             disposition: str | None = None,
                             callback_at: str | None = None,
                             callback_owner: str | None = None) -> None:
        await self.store.append(f"attempt-{call.call_id}", "attempts", {
            "lead_id": call.lead_id, "campaign_id": call.campaign_id, "call_id": call.call_id,
            "outcome": outcome.value, "disposition": disposition, "callback_at": callback_at,
            "callback_owner": callback_owner,
        })

    async def _stop_recording(self, call: CallAttempt) -> None:
        try:
            await self.control.stop_recording(call.recording or call.call_id)
        except TelephonyError as exc:
            log.debug("call %s: stop recording: %s", call.call_id, exc)
        await self.store.append(f"recording-{call.call_id}", "recordings", {
            "call_id": call.call_id, "name": call.recording, "talk_seconds": call.talk_seconds,
        })

    async def _release_agent(self, call: CallAttempt) -> None:
        agent = self.agents.sessions.get(call.agent_id or "")
        if agent is None or agent.call_id != call.call_id:
            return
        if agent.state is AgentState.ON_CALL:
            await self.agents.move(agent, AgentState.WRAP_UP, call_id=call.call_id)
            self._pop(call, "ended")
        elif agent.state is AgentState.RESERVED:
            paused = call.extra.get("manual_from_pause")  # a manual dial: back to that pause
            if paused:
                await self.agents.move(agent, AgentState.PAUSED, pause_code=str(paused))
            else:
                await self.agents.move(agent, AgentState.READY)
            self._pop(call, "ended")

    async def _release_reserved(self, call: CallAttempt) -> None:
        agent = self.agents.sessions.get(call.agent_id or "")
        if agent is not None and agent.state is AgentState.RESERVED \
                and agent.call_id == call.call_id:
            self._pop(call, "ended")
            await self.agents.move(agent, AgentState.READY)
        call.agent_id = None

    def _unqueue(self, call: CallAttempt) -> None:
        queue = self.waiting.get(call.campaign_id)
        if queue and call.call_id in queue:
            queue.remove(call.call_id)

    def _cancel_timer(self, call_id: str) -> None:
        timer = self._timers.pop(call_id, None)
        if timer is not None:
            timer.cancel()

    async def _guard(self, call: CallAttempt, action: object) -> None:
        """Run an ARI verb for a call; a vanished channel is not an error (it will end)."""
        try:
            await action  # type: ignore[misc]
        except TelephonyError as exc:
            log.info("call %s: %s", call.call_id, exc)
