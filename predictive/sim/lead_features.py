"""The features of simulated heterogeneous leads and their true answer log-odds (shared by
the lead draws and the learned lead model)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

N_REGIONS = 5
N_LISTS = 4
REGION_EFFECT = (0.0, 0.35, -0.3, 0.15, -0.55)
LIST_EFFECT = (0.0, 0.5, -0.45, 0.2)


def draw_features(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` leads' features, drawn from ``rng``."""
    return {
        "mobile": (rng.random(n) < 0.6).astype(np.int64),
        "region": rng.integers(0, N_REGIONS, n),
        "list_id": rng.integers(0, N_LISTS, n),
        "attempts": np.minimum(rng.geometric(0.45, n) - 1, 8),
        "last_outcome": rng.integers(0, 5, n),
        "lead_age_days": rng.exponential(30.0, n),
        "hours_since_last": rng.exponential(48.0, n),
    }


def logit_from_features(f: dict[str, np.ndarray]) -> np.ndarray:
    """True log-odds (without intercept) of a live answer given the features."""
    z = 0.9 * f["mobile"] - 0.3 * f["attempts"]
    z = z + np.asarray(REGION_EFFECT)[f["region"]] + np.asarray(LIST_EFFECT)[f["list_id"]]
    z = z + 0.7 * (f["last_outcome"] == 4) - 0.5 * (f["last_outcome"] == 2)
    z = z - 0.25 * np.log1p(f["lead_age_days"] / 30.0)
    return z


@lru_cache(maxsize=64)
def intercept_for(mean_p: float) -> float:
    """Intercept making the mean heterogeneous probability equal ``mean_p``."""
    rng = np.random.default_rng(12345)
    z = logit_from_features(draw_features(rng, 20000))
    lo, hi = -12.0, 12.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if float(np.mean(1 / (1 + np.exp(-(z + mid))))) < mean_p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
