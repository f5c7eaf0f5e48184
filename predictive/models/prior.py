"""Beta-Binomial prior of the live-answer rate by (list, local hour), with shrinkage.

Hyper-parameters (alpha, beta) are fitted by the method of moments over groups; a group's
rate is the posterior mean (alpha + lives) / (alpha + beta + attempts), so a group with
little history stays near the pooled rate and one with much history follows its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from predictive.models.history import CallHistoryRow


@dataclass(frozen=True, slots=True)
class BetaBinomialPrior:
    alpha: float
    beta: float
    counts: dict[tuple[str, int], tuple[int, int]]  # (list, hour) -> (lives, attempts)

    @property
    def pooled(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def mean(self, list_id: str, hour: int) -> float:
        lives, n = self.counts.get((list_id, hour), (0, 0))
        return (self.alpha + lives) / (self.alpha + self.beta + n)

    @staticmethod
    def fit(rows: Sequence[CallHistoryRow], default_rate: float = 0.2,
            default_strength: float = 20.0) -> BetaBinomialPrior:
        acc: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            c = acc[(r.list_id, r.local_hour)]
            c[0] += r.live
            c[1] += 1
        counts = {k: (v[0], v[1]) for k, v in acc.items()}
        a, b = _moments(counts, default_rate, default_strength)
        return BetaBinomialPrior(a, b, counts)


def _moments(counts: dict[tuple[str, int], tuple[int, int]], rate0: float, k0: float
             ) -> tuple[float, float]:
    n = np.array([v[1] for v in counts.values()], dtype=float)
    if len(n) < 3 or n.sum() < 50:
        return rate0 * k0, (1 - rate0) * k0
    s = np.array([v[0] for v in counts.values()], dtype=float)
    m = s.sum() / n.sum()
    rates = s / np.maximum(n, 1)
    var = float(np.average((rates - m) ** 2, weights=n))
    binom = m * (1 - m) * float(np.mean(1 / np.maximum(n, 1)))
    between = var - binom
    if between <= 1e-6:
        strength = 1000.0
    else:
        strength = float(np.clip(m * (1 - m) / between - 1, 2.0, 1000.0))
    return m * strength, (1 - m) * strength
