"""The simulator's and decide's speed-ups (incremental snapshots, memoised arrays) change
nothing: a day run with every cache defeated gives exactly the same result."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from predictive.pacing.types import PacingSnapshot
from predictive.sim.engine import DaySim
from predictive.sim.runner import make_policy
from predictive.sim.scenario import Scenario

_decide_mod = sys.modules["predictive.pacing.decide"]

CASE = Scenario(name="speed", agents=12, answer_rate=0.3, talk_mean_s=90, talk_cv=1.0,
                day_s=5400, pauses_per_agent=2, pause_s=120, login_stagger_s=300,
                early_logout_share=0.3, step_at_s=2700, p_profile="step")


class _NoCacheDay(DaySim):
    """Rebuilds the whole snapshot from scratch every second (the pre-speed-up behaviour)."""

    def snapshot(self, now: int) -> PacingSnapshot:
        for a in self.agents:
            a._view = None
        self._agents_dirty = self._calls_dirty = True
        snap = super().snapshot(now)
        assert snap.logged_in == sum(1 for a in self.agents if a.state != 0)
        # fresh tuples: decide's identity memos can never hit
        return replace(snap, ready=tuple(snap.ready), busy=tuple(list(snap.busy)),
                       in_flight=tuple(list(snap.in_flight)), hopper=tuple(list(snap.hopper)))


@pytest.mark.parametrize("policy", ["predictive", "vicidial_adapt_average", "oracle", "pi"])
def test_given_a_day_when_caches_are_defeated_then_the_result_is_identical(policy: str) -> None:
    fast = DaySim(CASE, make_policy(policy, CASE), 4, 0).run()
    for memo in (_decide_mod._busy_memo, _decide_mod._flight_memo, _decide_mod._hopper_memo):
        memo.clear()
    slow = _NoCacheDay(CASE, make_policy(policy, CASE), 4, 0).run()
    assert fast.dials > 100 and fast.connects > 50
    assert fast == slow
