"""Confidence intervals for comparing variants (pure; scipy only for the t and z quantiles).

- a mean: Student t interval; the difference of two means: Welch's t with the
  Welch–Satterthwaite degrees of freedom (unequal variances);
- a proportion: Wilson score interval; the difference of two proportions: Newcombe's hybrid
  score interval (his method 10, from the two Wilson intervals).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as sps

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int

    def json(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _z(level: float) -> float:
    return float(sps.norm.ppf(0.5 + level / 2))


def mean_ci(values: Sequence[float], level: float = LEVEL) -> Estimate:
    n = len(values)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Estimate(mean, None, None, 1)
    var = math.fsum((x - mean) ** 2 for x in values) / (n - 1)
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(var / n)
    return Estimate(mean, mean - half, mean + half, n)


def welch_diff(b: Sequence[float], a: Sequence[float], level: float = LEVEL) -> Estimate:
    """mean(b) - mean(a) with Welch's interval (``a`` is the control)."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        diff = (math.fsum(b) / nb - math.fsum(a) / na) if na and nb else None
        return Estimate(diff, None, None, na + nb)
    ma, mb = math.fsum(a) / na, math.fsum(b) / nb
    va = math.fsum((x - ma) ** 2 for x in a) / (na - 1)
    vb = math.fsum((x - mb) ** 2 for x in b) / (nb - 1)
    se2 = va / na + vb / nb
    diff = mb - ma
    if se2 == 0:
        return Estimate(diff, diff, diff, na + nb)
    df = se2 ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    half = float(sps.t.ppf(0.5 + level / 2, df)) * math.sqrt(se2)
    return Estimate(diff, diff - half, diff + half, na + nb)


def wilson(successes: int, n: int, level: float = LEVEL) -> Estimate:
    if n == 0:
        return Estimate(None, None, None, 0)
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    z = _z(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def newcombe_diff(x1: int, n1: int, x0: int, n0: int, level: float = LEVEL) -> Estimate:
    """p1 - p0 (``0`` is the control) with Newcombe's hybrid score interval."""
    if n1 == 0 or n0 == 0:
        return Estimate(None, None, None, n1 + n0)
    w1, w0 = wilson(x1, n1, level), wilson(x0, n0, level)
    assert w1.value is not None and w0.value is not None
    assert w1.low is not None and w1.high is not None
    assert w0.low is not None and w0.high is not None
    p1, p0 = w1.value, w0.value
    d = p1 - p0
    low = d - math.sqrt((p1 - w1.low) ** 2 + (w0.high - p0) ** 2)
    high = d + math.sqrt((w1.high - p1) ** 2 + (p0 - w0.low) ** 2)
    return Estimate(d, low, high, n1 + n0)
