"""The dialer: wires the desks to ARI events, runs campaigns, delivers the outbox.

This is the use-case facade the HTTP layer and the demo call. It depends only on
ports (call control, lead source, CRM sink, publisher, clock) and the store.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from ari_app.ami import AmiClient
from ari_app.ari import AriEvent, EventRouter, Reconnected
from ari_app.dialer import events as ev
from ari_app.dialer.agents import LEG_ARG, AgentDesk
from ari_app.dialer.calls import CallDesk
from ari_app.dialer.campaigns import CampaignRunner, Hopper
from ari_app.dialer.cdr import CdrCrossCheck
from ari_app.dialer.errors import CampaignNotFound, Conflict, InvalidRequest
from ari_app.dialer.hold import HoldDesk
from ari_app.dialer.model import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallPhase,
    CampaignConfig,
    DialMode,
    Outcome,
)
from ari_app.dialer.optout import OptOut
from ari_app.dialer.ports import (
    CallControl,
    Clock,
    CrmSink,
    DispositionSource,
    Lead,
    LeadSource,
    Publisher,
)
from ari_app.dialer.reconcile import Reconciler
from ari_app.dialer.snapshot import (
    AgentSnapshot,
    CallSnapshot,
    CampaignSnapshot,
    DialerSnapshot,
    ForwarderSnapshot,
)
from ari_app.dialer.store import DialerStore, Forwarder
from ari_app.dialer.wrapup import WrapUp
from ari_app.tasks import TaskSet
from predictive.pacing.brake import AbandonWindow

log = logging.getLogger(__name__)


class RecordingNotReady(Exception):
    """Asterisk has not finished writing the file (the outbox retries)."""


TRANSCRIPT_DELIVERY_TIMEOUT_S = 10.0
RECORDING_PATIENCE = 12  # tries (with the outbox's back-off: about a minute)


def repair_wav(data: bytes) -> bytes:
    """Fix the sizes of a canonical 44-byte-header WAV that was never closed."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[36:40] != b"data":
        return data
    size = len(data)
    return (data[:4] + (size - 8).to_bytes(4, "little") + data[8:40]
            + (size - 44).to_bytes(4, "little") + data[44:])


def complete_wav(data: bytes) -> bool:
    """A finished WAV: RIFF/WAVE header whose RIFF size matches the data we got."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    return int.from_bytes(data[4:8], "little") + 8 == len(data)


class Dialer:
    def __init__(self, control: CallControl, store: DialerStore, leads: LeadSource,
                 crm: CrmSink, publisher: Publisher, clock: Clock,
                 worker: str | None = None,
                 agent_endpoint: str = "PJSIP/{extension}",
                 dispositions: DispositionSource | None = None) -> None:
        self.control = control
        self.store = store
        self.leads = leads
        self.crm = crm
        self.publisher = publisher
        self.clock = clock
        self.worker = worker or f"dialer-{uuid.uuid4().hex[:8]}"
        self.configs: dict[str, CampaignConfig] = {}
        self.runners: dict[str, CampaignRunner] = {}
        self._tasks = TaskSet(log)
        self._recording_tries: dict[str, int] = {}
        self.agents = AgentDesk(control, store, publisher, clock, agent_endpoint)
        self.calls = CallDesk(control, self.agents, store, publisher, clock, self.config)
        self.wrapup = WrapUp(self.agents, self.calls, store, clock, self.config, self.spawn,
                             dispositions)  # the campaigns' codes (None: the built-in ones)
        self.agents.until_of = self.wrapup.deadline
        self.hold = HoldDesk(control, self.agents, self.calls, clock, self.spawn)
        self.forwarders = [
            Forwarder(store, "call_events", crm.push_call_event),
            Forwarder(store, "attempts", self._deliver_attempt),
            Forwarder(store, "recordings", self._deliver_recording),
            Forwarder(store, "dnc", self._deliver_dnc),
            Forwarder(store, "transcripts", self._deliver_transcript),
            Forwarder(store, "supervisor", self._deliver_supervisor_todo),
        ]
        self.optout = OptOut(self.calls)
        self.reconciler = Reconciler(self)
        self.agents.on_change.append(self._agent_changed)
        self.calls.on_finished.append(self._call_finished)
        self.cdr = CdrCrossCheck(self.calls.emit, clock)
        self.calls.on_finished.append(self.cdr.call_finished)
        self.calls.on_live.append(self._call_live)
        self.wrapup.on_wrap.append(self._wrap_ended)

    # ------------------------------------------------------------- wiring --
    def register(self, router: EventRouter) -> None:
        router.on("StasisStart", self._on_stasis_start)
        router.on("ChannelDestroyed", self._on_destroyed)
        router.on("Dial", self.calls.on_dial)
        router.on("PlaybackFinished", self.calls.on_playback_finished)
        router.on("ChannelDtmfReceived", self.optout.on_dtmf)

    def register_ami(self, ami: AmiClient) -> None:
        """CDR events (``cdr_manager``) to cross-check our durations."""
        ami.on("Cdr", self.cdr.on_ami_event)

    async def on_connected(self, marker: Reconnected) -> None:
        await self.reconciler.reconcile(marker)

    async def start(self) -> None:
        for forwarder in self.forwarders:
            self.spawn(forwarder.run(), f"outbox-{forwarder.lane}")

    async def stop(self) -> None:
        for runner in list(self.runners.values()):
            await runner.stop()
        await self._tasks.close()
        await self.cdr.close()

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)

    async def _on_stasis_start(self, event: AriEvent) -> None:
        if event.args[:1] == (LEG_ARG,):
            await self.agents.on_stasis_start(event)
        else:
            await self.calls.on_stasis_start(event)

    async def _on_destroyed(self, event: AriEvent) -> None:
        if await self.agents.on_leg_gone(event):
            return
        await self.calls.on_destroyed(event)

    def _agent_changed(self, session: Any, previous: AgentState) -> None:
        if session.state is AgentState.READY:
            self.spawn(self._agent_ready(session.agent_id), f"ready-{session.agent_id}")
        if session.state is AgentState.LOGGED_OUT:
            self.wrapup.cancel(session.agent_id)
            if previous is AgentState.WRAP_UP:  # the call is over: record it, no disposition
                for call in list(self.calls.calls.values()):
                    if call.agent_id == session.agent_id and call.phase is CallPhase.ENDED:
                        self.spawn(self.wrapup.agent_gone(session.agent_id, call.call_id),
                                   f"wrapup-gone-{call.call_id}")
            if previous is AgentState.ON_CALL:  # the customer would be left in silence
                for call in list(self.calls.calls.values()):
                    if call.agent_id == session.agent_id and call.phase is CallPhase.CONNECTED:
                        self.spawn(self._hangup_quietly(call.call_id), f"drop-{call.call_id}")
        if session.state is AgentState.WRAP_UP:
            self.wrapup.arm(session)

    async def _agent_ready(self, agent_id: str) -> None:
        session = self.agents.sessions.get(agent_id)
        if session is None or session.state is not AgentState.READY:
            return
        if not await self.calls.agent_available(session):
            self._poke(session.campaign_id)

    def _call_finished(self, call: CallAttempt) -> None:
        runner = self.runners.get(call.campaign_id)
        if runner is not None:
            runner.pacing.observe_end(call)
            if call.bridged_at is None and not call.abandoned:  # not a live answer
                runner.ledger.observe_other(call.ended_at or self.clock.now(),
                                            answered=call.answered_at is not None)
        self._poke(call.campaign_id)

    def _call_live(self, call: CallAttempt, abandoned: bool) -> None:
        runner = self.runners.get(call.campaign_id)
        if runner is not None:
            runner.pacing.observe_live(call, abandoned)
            runner.ledger.observe_live(self.clock.now(), abandoned)

    def _wrap_ended(self, campaign_id: str, seconds: float) -> None:
        runner = self.runners.get(campaign_id)
        if runner is not None:
            runner.pacing.observe_wrap(seconds)

    def _poke(self, campaign_id: str) -> None:
        runner = self.runners.get(campaign_id)
        if runner is not None:
            runner.poke()

    async def _hangup_quietly(self, call_id: str) -> None:
        try:
            await self.calls.hangup(call_id)
        except Exception as exc:
            log.info("call %s: hangup after agent left: %s", call_id, exc)

    # ------------------------------------------------------ outbox lanes --
    async def _deliver_attempt(self, job: dict[str, Any]) -> None:
        await self.leads.record_attempt(
            job["lead_id"], Outcome(job["outcome"]), worker=self.worker, call_id=job["call_id"],
            disposition=job.get("disposition"), callback_at=job.get("callback_at"),
            callback_owner=job.get("callback_owner"),
        )

    async def _deliver_recording(self, job: dict[str, Any]) -> None:
        name = job["name"]
        audio = await self.control.stored_recording(name)
        if not complete_wav(audio):
            tries = self._recording_tries.get(name, 0) + 1
            self._recording_tries[name] = tries
            if tries < RECORDING_PATIENCE:
                raise RecordingNotReady(f"recording {name}: file not finalised yet")  # retried
            log.warning("recording %s never finalised (Asterisk restarted?); repairing its "
                        "header and keeping what was recorded", name)
            audio = repair_wav(audio)
        self._recording_tries.pop(name, None)
        url = await self.crm.store_recording(job["call_id"], audio, job.get("talk_seconds"))
        event = ev.recording_ready(job["call_id"], self.clock.now(), url, job.get("talk_seconds"))
        event = ev.CallEvent(event.type, event.call_id, event.occurred_at, event.attrs,
                             event_id=f"recording-ready-{job['call_id']}")
        await self.store.append(event.event_id, "call_events", event.payload())
        try:
            await self.control.delete_stored_recording(name)
        except Exception as exc:
            log.info("recording %s: delete from Asterisk: %s", name, exc)

    async def _deliver_dnc(self, job: dict[str, Any]) -> None:
        await self.crm.add_dnc(job["number"], job.get("campaign_id"), job["reason"])

    async def record_transcript(self, call_id: str, segment: dict[str, Any]) -> None:
        """A transcript segment or gap marker of a live call: durable first, then the CRM."""
        await self.store.append(f"transcript-{segment['segment_id']}", "transcripts",
                                {"call_id": call_id, "segment": segment})

    async def _deliver_transcript(self, job: dict[str, Any]) -> None:
        # Bounded: a CRM call that hangs must not hold every later segment (retried, idempotent).
        async with asyncio.timeout(TRANSCRIPT_DELIVERY_TIMEOUT_S):
            await self.crm.push_transcript(job["call_id"], job["segment"])

    async def _deliver_supervisor_todo(self, job: dict[str, Any]) -> None:
        await self.crm.supervisor_todo(job["campaign_id"], job["key"], job["title"],
                                       job["evidence"])

    async def _abandon_alarm(self, config: CampaignConfig, recent: AbandonWindow,
                             at: float) -> None:
        """Too many abandons lately (the runner raised the alarm): a to-do for the campaign's
        manager, durable through the outbox; and back to progressive until a manager resumes
        predictive, unless the campaign says otherwise."""
        key = f"abandon-alarm-{config.campaign_id}-{int(at)}"
        pause = config.pause_predictive_on_abandon_alarm and config.mode is DialMode.PREDICTIVE
        after = ("predictive dialling was switched to progressive; resume it in the console "
                 "once the cause is found" if pause else "predictive dialling goes on")
        await self.store.append(key, "supervisor", {
            "campaign_id": config.campaign_id, "key": key,
            "title": {"zh": f"放弃率告警：{config.name or config.campaign_id}",
                      "en": f"Abandon alarm: {config.name or config.campaign_id}"},
            "evidence": [f"{recent.abandons} abandoned of {recent.live_answers} live answers "
                         f"in the last {recent.name}", f"cap {config.abandon_target:.1%}",
                         after]})
        if pause:
            await self.set_mode(config.campaign_id, DialMode.PROGRESSIVE.value)

    # -------------------------------------------------------- campaigns --
    def config(self, campaign_id: str) -> CampaignConfig:
        try:
            return self.configs[campaign_id]
        except KeyError:
            raise CampaignNotFound(campaign_id) from None

    async def start_campaign(self, config: CampaignConfig) -> None:
        """Start (or update, if running) a campaign; it survives a controller restart."""
        await self.store.save_state("campaign", config.campaign_id, asdict(config))
        self.run_campaign(config)

    def run_campaign(self, config: CampaignConfig) -> None:
        self.configs[config.campaign_id] = config
        runner = self.runners.get(config.campaign_id)
        if runner is not None:
            runner.reconfigure(config)
            return
        hopper = Hopper(self.leads, config.campaign_id, self.worker, self.store)
        runner = CampaignRunner(config, self.agents, self.calls, hopper, self.publisher,
                                self.clock, counts=self.crm,
                                on_abandon_alarm=self._abandon_alarm)
        self.runners[config.campaign_id] = runner
        self.spawn(runner.run(), f"campaign-{config.campaign_id}")

    async def stop_campaign(self, campaign_id: str) -> None:
        runner = self.runners.pop(campaign_id, None)
        if runner is None:
            raise CampaignNotFound(campaign_id)
        await self.store.drop_state("campaign", campaign_id)
        await runner.stop()

    async def set_mode(self, campaign_id: str, mode: str) -> CampaignConfig:
        try:
            new_mode = DialMode(mode)
        except ValueError:
            raise InvalidRequest("mode", "must be preview, progressive or predictive") from None
        config = replace(self.config(campaign_id), mode=new_mode)
        runner = self.runners.get(campaign_id)
        if runner is not None:
            runner.reconfigure(config)  # first: the loop makes no new offer from now on
        await self.start_campaign(config)
        if runner is not None and new_mode is not DialMode.PREVIEW:
            for agent_id in list(runner.offers):
                await runner.withdraw_offer(agent_id)
        return config

    # ------------------------------------------------------------ agents --
    async def login(self, agent_id: str, extension: str, campaign_id: str,
                    senior: bool = False) -> None:
        """Log in to a campaign (it need not be dialing yet: the agent waits ready).
        ``senior`` agents are offered the ``senior``-route leads first."""
        await self.agents.login(agent_id, extension, campaign_id, senior=senior)

    async def logout(self, agent_id: str) -> None:
        await self.agents.logout(agent_id)

    async def ready(self, agent_id: str) -> None:
        session = self.agents.get(agent_id)
        if session.state is AgentState.WRAP_UP:
            raise Conflict("set a disposition first (the agent is in wrap-up)")
        if session.state is not AgentState.READY:
            await self.agents.move(session, AgentState.READY)

    async def pause(self, agent_id: str, code: str) -> None:
        if not code or len(code) > 32:
            raise InvalidRequest("pause_code", "a pause code of 1 to 32 characters is required")
        session = self.agents.get(agent_id)
        if session.state in (AgentState.ON_CALL, AgentState.RESERVED):
            raise Conflict(f"agent {agent_id} is {session.state.value}; pause after the call")
        if session.state is AgentState.WRAP_UP:
            raise Conflict("set a disposition first (the agent is in wrap-up)")
        await self.agents.move(session, AgentState.PAUSED, pause_code=code)

    async def hangup_customer(self, agent_id: str) -> None:
        session = self.agents.get(agent_id)
        if session.state is not AgentState.ON_CALL or not session.call_id:
            raise Conflict(f"agent {agent_id} is not on a call")
        await self.calls.hangup(session.call_id)

    async def hold_customer(self, agent_id: str, on: bool) -> None:
        await (self.hold.hold(agent_id) if on else self.hold.unhold(agent_id))

    async def mute_agent(self, agent_id: str, on: bool) -> None:
        await self.hold.mute(agent_id, on)

    async def dispose(self, agent_id: str, disposition: str, *, callback_at: datetime | None = None,
                      note: str | None = None, pause_code: str | None = None,
                      callback_scope: str | None = None) -> None:
        session = self.agents.sessions.get(agent_id)
        await self.wrapup.code(session.campaign_id if session else None, disposition)
        await self.wrapup.dispose(agent_id, disposition, callback_at=callback_at, note=note,
                                  pause_code=pause_code, callback_scope=callback_scope)

    async def accept_preview(self, agent_id: str) -> str:
        session = self.agents.get(agent_id)
        runner = self.runners.get(session.campaign_id)
        if runner is None or agent_id not in runner.offers:
            raise Conflict(f"agent {agent_id} has no preview offer")
        return await runner.accept(session)

    def check_manual_dial(self, agent_id: str, campaign_id: str) -> CampaignConfig:
        """A manual dial is for a paused agent logged into that campaign, which is running
        (its trunk template): Conflict naming the field otherwise."""
        session = self.agents.get(agent_id)
        if session.campaign_id != campaign_id:
            raise Conflict(f"agent {agent_id} is logged into another campaign",
                           field="campaign_id")
        if session.state is not AgentState.PAUSED:
            raise Conflict(f"agent {agent_id} is {session.state.value}; pause to dial by hand",
                           field="state")
        if campaign_id not in self.configs:
            raise Conflict(f"campaign {campaign_id} is not running", field="campaign_id")
        return self.configs[campaign_id]

    async def manual_dial(self, agent_id: str, lead: Lead) -> str:
        """Dial one lead for one paused agent through the campaign's own path (trunk template,
        recording, pops, the CRM): the call is placed as a preview accept would be."""
        config = self.check_manual_dial(agent_id, lead.campaign_id)
        session = self.agents.get(agent_id)
        pause_code = session.pause_code or "manual"
        call = await self.calls.place(lead, config, session)
        if call.phase is not CallPhase.ENDED:  # unanswered: the agent goes back to pause
            call.extra["manual_from_pause"] = pause_code
        log.info("call %s (campaign %s): manual dial by %s", call.call_id, lead.campaign_id,
                 agent_id)
        return call.call_id

    async def skip_preview(self, agent_id: str, reason: str) -> None:
        if not reason:
            raise InvalidRequest("reason", "say why the lead is skipped")
        session = self.agents.get(agent_id)
        runner = self.runners.get(session.campaign_id)
        if runner is None or agent_id not in runner.offers:
            raise Conflict(f"agent {agent_id} has no preview offer")
        await runner.skip(session, reason)

    # ------------------------------------------------------------ status --
    def agent_view(self, agent_id: str) -> AgentSnapshot:
        session = self.agents.sessions.get(agent_id)
        if session is None or session.state is AgentState.LOGGED_OUT:
            return AgentSnapshot.logged_out(agent_id)
        snap = self._agent_snapshot(session, self.clock.now())
        call = self.calls.calls.get(session.call_id or "")
        if call is None or session.state is not AgentState.ON_CALL:
            return snap
        return replace(snap, on_hold=call.held_since is not None, muted=call.muted,
                       hold_seconds=call.hold_total(self.clock.now()))

    @staticmethod
    def _agent_snapshot(s: AgentSession, now: float) -> AgentSnapshot:
        return AgentSnapshot(s.agent_id, s.state, extension=s.extension,
                             campaign_id=s.campaign_id,
                             seconds_in_state=round(now - s.since, 1), pause_code=s.pause_code,
                             call_id=s.call_id, senior=s.senior)

    def snapshot(self) -> DialerSnapshot:
        now = self.clock.now()
        return DialerSnapshot(
            worker=self.worker,
            agents=tuple(self._agent_snapshot(s, now) for s in self.agents.sessions.values()
                         if s.state is not AgentState.LOGGED_OUT),
            campaigns=tuple(self._campaign_snapshot(c) for c in self.configs.values()),
            calls=tuple(CallSnapshot(c.call_id, c.campaign_id, c.number, c.phase, c.agent_id)
                        for c in self.calls.calls.values() if c.phase is not CallPhase.ENDED),
            forwarders=tuple(ForwarderSnapshot(f.lane, f.delivered, f.failures, f.last_error,
                                               f.last_lag_s) for f in self.forwarders),
            cdr=self.cdr.snapshot(),
        )

    def _campaign_snapshot(self, config: CampaignConfig) -> CampaignSnapshot:
        runner = self.runners.get(config.campaign_id)
        counters = self.calls.counters[config.campaign_id]
        answers = counters.live_answers
        return CampaignSnapshot(
            campaign_id=config.campaign_id, name=config.name, mode=config.mode,
            running=runner is not None, alarm=runner.alarm if runner else None,
            pacing=config.pacing, pacing_reason=runner.pacing_reason if runner else "",
            hopper=len(runner.hopper.leads) if runner else 0,
            dials=counters.dials, live_answers=answers, abandons=counters.abandons,
            machines=counters.machines, connects=counters.connects,
            abandon_rate=round(counters.abandons / answers, 4) if answers else 0.0,
            abandon_target=config.abandon_target,
        )
