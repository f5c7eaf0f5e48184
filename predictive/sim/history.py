"""Synthetic CRM call history whose answer probability depends on learnable features.

Used to train and test the answer model, best-time-to-call and (with ``customers``) the
conversion model. The true probability of every generated attempt is returned alongside.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from predictive.models.history import CallHistoryRow

REGIONS = ("north", "south", "east", "west", "capital")
REGION_EFFECT = (0.0, 0.3, -0.3, 0.1, -0.5)
LISTS = ("web_leads", "purchased", "referrals", "old_customers")
LIST_EFFECT = (0.2, -0.6, 0.6, 0.0)
LAST_EFFECT = {None: 0.0, "live": 0.5, "machine": -0.2, "busy": 0.2, "no_answer": -0.3,
               "failed": -0.5}


def hour_effect(number_type: str, hour: int, weekday: int) -> float:
    """Mobiles answer in the evening, landlines mid-morning; everyone less at lunch."""
    lunch = -0.35 if 12 <= hour < 14 else 0.0
    weekend = weekday >= 5
    if number_type == "mobile":
        return 0.7 * math.exp(-((hour - 18.5) ** 2) / 4.0) + lunch + (0.2 if weekend else 0.0)
    return 0.6 * math.exp(-((hour - 10.5) ** 2) / 3.0) + lunch + (0.3 if weekend else -0.1)


def true_logit(number_type: str, region: int, list_i: int, hour: int, weekday: int,
               attempt_no: int, last: str | None, age: float, intercept: float) -> float:
    z = intercept + (0.4 if number_type == "mobile" else 0.0)
    z += REGION_EFFECT[region] + LIST_EFFECT[list_i] + hour_effect(number_type, hour, weekday)
    z += -0.25 * attempt_no + LAST_EFFECT[last] - 0.2 * math.log1p(age / 30)
    return z


def _outcome(rng: np.random.Generator, p: float) -> str:
    u = rng.random()
    if u < p:
        return "live"
    rest = (u - p) / (1 - p)
    return "busy" if rest < 0.05 else "machine" if rest < 0.2 else "no_answer"


def generate_history(
    n_leads: int, seed: int = 0, start: datetime = datetime(2026, 1, 5),
    max_attempts: int = 6, intercept: float = -1.6,
) -> tuple[list[CallHistoryRow], np.ndarray]:
    """Attempts of ``n_leads`` leads over ~4 weeks, in time order, and their true p."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[CallHistoryRow, float]] = []
    for lead in range(n_leads):
        rows += _lead_attempts(rng, lead, start, max_attempts, intercept)
    rows.sort(key=lambda rp: rp[0].attempted_at)
    return [r for r, _ in rows], np.array([p for _, p in rows])


def _lead_attempts(rng: np.random.Generator, lead: int, start: datetime, max_attempts: int,
                   intercept: float) -> list[tuple[CallHistoryRow, float]]:
    ntype = str(rng.choice(("mobile", "landline", "voip"), p=(0.6, 0.35, 0.05)))
    region, list_i = int(rng.integers(len(REGIONS))), int(rng.integers(len(LISTS)))
    created = start - timedelta(days=float(rng.exponential(40)))
    t = start + timedelta(days=float(rng.uniform(0, 21)))
    out: list[tuple[CallHistoryRow, float]] = []
    last: str | None = None
    last_t: datetime | None = None
    for k in range(int(rng.integers(1, max_attempts + 1))):
        t = t.replace(hour=int(rng.integers(8, 21)), minute=int(rng.integers(60)))
        age = (t - created).total_seconds() / 86400
        z = true_logit(ntype, region, list_i, t.hour, t.weekday(), k, last, age, intercept)
        p = 1 / (1 + math.exp(-z))
        outcome = _outcome(rng, p)
        since = None if last_t is None else (t - last_t).total_seconds() / 3600
        out.append((CallHistoryRow(
            lead_id=f"lead{lead}", list_id=LISTS[list_i], attempted_at=t, local_hour=t.hour,
            local_weekday=t.weekday(), attempt_no=k, hours_since_last=since, last_outcome=last,
            number_type=ntype, region=REGIONS[region], lead_age_days=age, outcome=outcome,
            talk_s=float(rng.lognormal(4.4, 0.8)) if outcome == "live" else 0.0,
        ), p))
        if outcome == "live":
            break
        last, last_t = outcome, t
        t = t + timedelta(days=float(rng.integers(1, 4)))
    return out
