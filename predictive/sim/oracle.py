"""The oracle: knows every attempt's outcome, ring time and every agent's free time.

It dials the hopper in the same order as the other policies (common random numbers),
launches failures at once (they never need an agent), and holds a live answer until it
would arrive no more than 2 s before an agent frees. A ceiling, not a policy.
"""

from __future__ import annotations

from predictive.pacing.baselines import dial_prefix
from predictive.pacing.types import DialDecision, PacingEvent, PacingSnapshot
from predictive.sim.engine import SimView


class Oracle:
    name = "oracle"

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._view: SimView | None = None

    def start_day(self, view: SimView) -> None:
        self._view = view

    def observe(self, event: PacingEvent, now: float) -> None:
        return None

    def decide(self, snapshot: PacingSnapshot) -> DialDecision:
        view = self._view
        if view is None:
            return dial_prefix(snapshot, 0, "oracle: no view")
        now = snapshot.now
        slots = sorted([now] * len(snapshot.ready) + view.busy_free_times())
        taken = snapshot.waiting_calls + len([a for a in view.live_arrivals() if a > now])
        free = slots[taken:]
        n = 0
        for q in snapshot.hopper[: snapshot.max_dials]:
            live, dt = view.resolve(int(q.lead_id), int(now))  # type: ignore[call-overload]
            if live:
                if not free or now + dt + self.window_s < free[0]:
                    break
                free.pop(0)
            n += 1
        return dial_prefix(snapshot, n, "oracle")


