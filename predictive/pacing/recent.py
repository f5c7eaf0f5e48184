"""Short-window means of wrap-up and talk time, for the estimator (issue 18 #6).

The estimator's long-run means follow a drift over thousands of talks; agents who slow down
after lunch (wrap-ups from ~3 s to the 30 s limit within minutes) must be seen within a few
calls. :class:`RecentMean` is an exponentially weighted mean and variance over the last few
observations (half-life in observations); :meth:`RecentMean.above` gives it when it is
significantly *above* the long-run value (``z`` standard errors of the short mean), else
``None``. Only upward: a longer wrap-up or talk means agents free later, so a pacing that
has not seen it yet dials too much; a shorter one only costs occupancy until the long-run
mean follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class RecentMean:
    half_life: float = 4.0  # observations
    min_n: int = 3
    z: float = 2.0
    n: int = 0
    mean: float = 0.0
    var: float = 0.0

    @property
    def weight(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.half_life)

    def update(self, x: float) -> None:
        self.n += 1
        if self.n == 1:
            self.mean, self.var = x, 0.0
            return
        w = max(self.weight, 1.0 / self.n)
        delta = x - self.mean
        self.mean += w * delta
        self.var = (1 - w) * (self.var + w * delta * delta)

    def std_error(self) -> float:
        w = self.weight
        return math.sqrt(max(self.var, 0.0) * w / (2 - w))

    def above(self, long_run: float) -> float | None:
        """The short-window mean if it is significantly above ``long_run``, else ``None``."""
        if self.n < self.min_n or self.mean <= long_run + self.z * self.std_error():
            return None
        return self.mean
