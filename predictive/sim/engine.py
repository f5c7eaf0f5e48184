"""Discrete-event simulator of one campaign day, 1-second decision ticks, integer seconds.

Events are kept in a heap ordered by (time, priority): agents freeing up are processed
before answers arriving at the same second, and those before abandon deadlines, so "an
agent free within 2 s" includes an agent freeing exactly 2 s after the answer.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Protocol

from predictive.errors import PolicyError
from predictive.pacing.types import (
    AttemptEnded,
    AttemptOutcome,
    BusyAgent,
    BusyState,
    CallInFlight,
    DialDecision,
    LiveAnswerHandled,
    PacingEvent,
    PacingSnapshot,
    QueuedLead,
    ReadyAgent,
    TalkEnded,
    WindowStats,
    WrapEnded,
)
from predictive.sim.draws import LeadBook, Outcome, agent_plans
from predictive.sim.metrics import DayResult, DayTally
from predictive.sim.scenario import Scenario

OFF, READY, TALK, WRAP, PAUSED = range(5)
# event kinds, with their priority at equal times
LOGIN, WRAP_END, PAUSE_END, TALK_END, OUTCOME, PAUSE_START, ABANDON = range(7)
_PRIO = {LOGIN: 0, WRAP_END: 0, PAUSE_END: 0, TALK_END: 0, OUTCOME: 1, PAUSE_START: 1, ABANDON: 2}
INF = float("inf")


class Policy(Protocol):
    """A pacing policy as the simulator drives it."""

    name: str

    def start_day(self, view: SimView) -> None: ...

    def decide(self, snapshot: PacingSnapshot) -> DialDecision: ...

    def observe(self, event: PacingEvent, now: float) -> None: ...


class _Agent:
    __slots__ = ("aid", "state", "since", "free_at", "pause_len", "ready_since", "_view")

    def __init__(self, aid: int) -> None:
        self.aid, self.state, self.since = aid, OFF, 0.0
        self.free_at, self.pause_len, self.ready_since = INF, 0, 0.0
        self._view: BusyAgent | None = None

    def view(self) -> BusyAgent:
        """The agent as a snapshot shows it while busy, rebuilt only after a change."""
        if self._view is None:
            state = BusyState.TALK if self.state == TALK else BusyState.WRAP
            self._view = BusyAgent(self.aid, state, self.since, self.pause_len > 0)
        return self._view

    def set_pause(self, length: int) -> None:
        self.pause_len, self._view = length, None


class _Call:
    __slots__ = ("lead", "dialed_at", "p", "seen", "human", "live", "talk", "at", "flight",
                 "list_id")

    def __init__(self, lead: int, dialed_at: int, p: float, resolved: tuple,
                 list_id: int | None = None) -> None:
        self.lead, self.dialed_at, self.p, self.list_id = lead, dialed_at, p, list_id
        self.seen, self.human, self.live, self.talk, self.at = resolved
        # built once, reused by every snapshot
        self.flight = CallInFlight(lead, p, dialed_at, list_id)


class SimView:
    """Read-only peek into the future, for the oracle policy only."""

    def __init__(self, day: DaySim) -> None:
        self._d = day

    def resolve(self, lead: int, t: int) -> tuple[bool, int]:
        """(is a live answer, seconds from dial to outcome) if ``lead`` is dialled at ``t``."""
        _, _, live, _, at = self._d.resolve(lead, t)
        return live, at - t

    def busy_free_times(self) -> list[float]:
        return [a.free_at for a in self._d.agents if a.state in (TALK, WRAP) and not a.pause_len]

    def live_arrivals(self) -> list[int]:
        return [c.at for c in self._d.calls.values() if c.live]


class DaySim:
    """Mutable state of one simulated day; use :func:`simulate_day`."""

    def __init__(self, s: Scenario, policy: Policy, seed: int, day: int) -> None:
        self.s, self.policy, self.book = s, policy, LeadBook(s, seed, day)
        self.agents = [_Agent(i) for i in range(s.agents)]
        self.heap: list[tuple] = []
        self.seq = 0
        self.calls: dict[int, _Call] = {}
        self.ready: list[int] = []
        self.waiting: deque[int] = deque()
        self.next_lead = 0
        self.tally = DayTally(s.day_s)
        self.win_live = self.win_abandon = 0
        self.logged = 0  # agents who have logged in (a logout is a pause until the day ends)
        self._agents_dirty = self._calls_dirty = True
        self._cache: tuple = ()
        self._hopper: tuple[QueuedLead, ...] = ()
        self._hopper_at = -1
        for agent, plan in zip(self.agents, agent_plans(s, seed, day), strict=True):
            self.push(plan.login_s, LOGIN, agent.aid)
            for start, length in plan.pauses:
                self.push(start, PAUSE_START, (agent.aid, length))
            if plan.logout_s < s.day_s:  # logging out = pausing until the end of the day
                self.push(plan.logout_s, PAUSE_START, (agent.aid, s.day_s))

    def push(self, t: float, kind: int, arg: object) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, _PRIO[kind], self.seq, kind, arg))

    def resolve(self, lead: int, t: int) -> tuple[AttemptOutcome, bool, bool, int, int]:
        """(dialer-visible outcome, human, live, talk seconds, outcome time)."""
        s, (ch, k) = self.s, self.book.chunk(lead)
        out = self.book.outcome(lead, t)
        answered_at = t + ch.ring[k] + self.book.amd_delay(lead)  # the AMD verdict: hand-off
        if out is Outcome.HUMAN:
            if ch.u_amd[k] < s.amd_false_positive:
                return AttemptOutcome.MACHINE, True, False, 0, answered_at
            return AttemptOutcome.LIVE, True, True, ch.talk[k], answered_at
        if out is Outcome.MACHINE:
            if ch.u_amd[k] < s.amd_false_negative:
                return AttemptOutcome.LIVE, False, True, ch.machine_talk[k], answered_at
            return AttemptOutcome.MACHINE, False, False, 0, answered_at
        if out is Outcome.BUSY:
            return AttemptOutcome.BUSY, False, False, 0, t + ch.busy_t[k]
        return AttemptOutcome.NO_ANSWER, False, False, 0, t + s.ring_timeout_s

    # -- agent state -------------------------------------------------------------------
    def _set(self, a: _Agent, state: int, now: float) -> None:
        self.tally.add_state(a.state, now - a.since)
        self.logged += (state != OFF) - (a.state != OFF)
        a.state, a.since, a._view = state, now, None
        self._agents_dirty = True

    def _agent_free(self, a: _Agent, now: float) -> None:
        if a.pause_len:
            self._set(a, PAUSED, now)
            self.push(now + a.pause_len, PAUSE_END, a.aid)
            a.set_pause(0)
            a.free_at = INF
            return
        a.ready_since = now
        if self.waiting:
            self._set(a, READY, now)
            self._connect(self.waiting.popleft(), a, now)
            return
        self._set(a, READY, now)
        a.free_at = now
        self.ready.append(a.aid)

    def _connect(self, cid: int, a: _Agent, now: float) -> None:
        call = self.calls.pop(cid)
        self.tally.waits.append(now - a.ready_since)
        self._set(a, TALK, now)
        a.free_at = now + call.talk + self.s.wrap_s
        self.push(now + call.talk, TALK_END, (a.aid, call.talk, call.human))
        if call.human:
            self.tally.connects += 1
        self.policy.observe(LiveAnswerHandled(False, call.lead, not call.human), now)

    # -- events --------------------------------------------------------------------------
    def _handle(self, now: float, kind: int, arg: object) -> None:
        if kind == OUTCOME:
            self._outcome(arg, now)  # type: ignore[arg-type]
        elif kind == ABANDON:
            self._abandon(arg, now)  # type: ignore[arg-type]
        elif kind == TALK_END:
            self._talk_end(arg, now)  # type: ignore[arg-type]
        elif kind == WRAP_END:
            self.policy.observe(WrapEnded(self.s.wrap_s), now)
            self._agent_free(self.agents[arg], now)  # type: ignore[call-overload]
        elif kind in (LOGIN, PAUSE_END):
            self._agent_free(self.agents[arg], now)  # type: ignore[call-overload]
        elif kind == PAUSE_START:
            self._pause(arg, now)  # type: ignore[arg-type]

    def _talk_end(self, arg: tuple[int, int, bool], now: float) -> None:
        aid, talk, human = arg
        self.tally.human_talk_s += talk if human else 0
        self._set(self.agents[aid], WRAP, now)
        self.push(now + self.s.wrap_s, WRAP_END, aid)
        self.policy.observe(TalkEnded(talk, machine=not human), now)

    def _pause(self, arg: tuple[int, int], now: float) -> None:
        aid, length = arg
        a = self.agents[aid]
        if a.state == READY:
            self.ready.remove(aid)
            self._set(a, PAUSED, now)
            a.free_at = INF
            self.push(now + length, PAUSE_END, aid)
        elif a.state in (TALK, WRAP):
            a.set_pause(length)
            self._agents_dirty = True
        elif a.state == PAUSED and length >= self.s.day_s:
            a.set_pause(length)  # a logout during a break applies when the break ends

    def _outcome(self, cid: int, now: float) -> None:
        call = self.calls[cid]
        self._calls_dirty = True
        self.policy.observe(AttemptEnded(call.lead, call.p, call.seen, now - call.dialed_at,
                                         call.list_id), now)
        if not call.live:
            del self.calls[cid]
            if call.human:
                self.tally.amd_lost += 1
            return
        call.live = False  # no longer in flight
        self.win_live += 1
        if call.human:
            self.tally.answer(now)
        if self.ready:
            a = self.agents[self.ready.pop(0)]
            self._connect(cid, a, now)
        else:
            self.waiting.append(cid)
            self.push(now + self.s.abandon_window_s, ABANDON, cid)

    def _abandon(self, cid: int, now: float) -> None:
        if cid not in self.calls:
            return
        call = self.calls.pop(cid)
        self.waiting.remove(cid)
        self.win_abandon += 1
        self._calls_dirty = True
        if call.human:
            self.tally.abandon(now)
        else:
            self.tally.machine_abandons += 1
        self.policy.observe(LiveAnswerHandled(True, call.lead), now)

    # -- ticks ---------------------------------------------------------------------------
    def snapshot(self, now: int) -> PacingSnapshot:
        # rebuilt only what changed: agents (ready, busy, logged in) and/or calls (in flight)
        if self._agents_dirty or self._calls_dirty:
            ready, busy, flight, logged, _ = self._cache or ((), (), (), 0, None)
            if self._agents_dirty:
                ag = self.agents
                ready = tuple(ReadyAgent(i, ag[i].ready_since) for i in self.ready)
                busy = tuple(a.view() for a in ag if a.state == TALK or a.state == WRAP)
                logged = self.logged
            if self._calls_dirty:
                flight = tuple(c.flight for c in self.calls.values() if c.at > now)
            self._agents_dirty = self._calls_dirty = False
            stats = WindowStats(self.win_live, self.win_abandon, float(now))
            self._cache = (ready, busy, flight, logged, stats)
        if self.s.has_lists and self.book.new_list_from is None and now >= self.s.step_at_s:
            self.book.start_new_list(self.next_lead)  # the new list is loaded: a fresh hopper
            self._refresh_hopper(now)
        if now - self._hopper_at >= 60 or not self._hopper:
            self._refresh_hopper(now)
        ready, busy, flight, logged, stats = self._cache
        return PacingSnapshot(
            now=float(now), campaign_id=self.s.name, ready=ready, busy=busy, in_flight=flight,
            hopper=self._hopper, stats=stats, target_abandon=self.s.cap, estimates=None,
            waiting_calls=len(self.waiting), max_dials=max(0, self.s.max_lines - len(flight)),
            logged_in=logged,
        )

    def _refresh_hopper(self, now: int) -> None:
        size = max(40, 4 * self.s.agents)
        base = self.next_lead
        rep, list_of = self.book.p_reported, self.book.list_of
        self._hopper = tuple(QueuedLead(i, rep(i, now), list_id=list_of(i))
                             for i in range(base, base + size))
        self._hopper_at = now

    def dial(self, decision: DialDecision, now: int) -> None:
        n = decision.count
        if n <= 0:
            return
        hop = self._hopper
        if n > len(hop) or tuple(q.lead_id for q in hop[:n]) != tuple(decision.lead_ids):
            raise PolicyError(f"{self.policy.name}: decision must dial a hopper prefix")
        for q in hop[:n]:
            lead = int(q.lead_id)  # type: ignore[call-overload]
            call = _Call(lead, now, q.p_answer, self.resolve(lead, now), self.book.list_of(lead))
            self.seq += 1
            self.calls[self.seq] = call
            self.push(call.at, OUTCOME, self.seq)
        self.tally.dials += n
        self.next_lead += n
        self._hopper = hop[n:]
        self._calls_dirty = True

    def run(self) -> DayResult:
        self.policy.start_day(SimView(self))
        heap = self.heap
        for now in range(self.s.day_s):
            while heap and heap[0][0] <= now:
                t, _, _, kind, arg = heapq.heappop(heap)
                self._handle(t, kind, arg)
            decision = self.policy.decide(self.snapshot(now))
            if decision.count:
                self.dial(decision, now)
        for a in self.agents:
            self.tally.add_state(a.state, self.s.day_s - a.since)
        return self.tally.result()


def simulate_day(s: Scenario, policy: Policy, seed: int, day: int = 0) -> DayResult:
    """Simulate one day of ``s`` under ``policy`` with the common random numbers of (seed, day)."""
    return DaySim(s, policy, seed, day).run()
