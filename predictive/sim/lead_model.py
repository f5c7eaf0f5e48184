"""A per-lead answer model *learned* from simulated history (XGBoost + isotonic), so the
heterogeneous-lead benchmark can compare: true p (ideal model), learned p, pooled rate."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xgboost as xgb

from predictive.models.boosting import BoostParams, predict, train_binary
from predictive.models.calibration import Calibrator, fit_calibrator
from predictive.sim.lead_features import draw_features, intercept_for, logit_from_features

FEATURE_KEYS = ("mobile", "region", "list_id", "attempts", "last_outcome", "lead_age_days",
                "hours_since_last")


def feature_matrix(features: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([features[k].astype(np.float32) for k in FEATURE_KEYS])


@lru_cache(maxsize=8)
def learned_model(answer_rate: float, n: int = 40000) -> tuple[xgb.Booster, Calibrator]:
    """Train on ``n`` simulated past attempts (own seed, disjoint from the benchmark's)."""
    rng = np.random.default_rng(987654)
    f = draw_features(rng, n)
    p = 1 / (1 + np.exp(-(logit_from_features(f) + intercept_for(answer_rate))))
    y = (rng.random(n) < p).astype(np.float32)
    x = feature_matrix(f)
    a, b = int(0.7 * n), n
    booster = train_binary(x[:a], y[:a], x[a:b], y[a:b], BoostParams(rounds=200), FEATURE_KEYS)
    cal = fit_calibrator(predict(booster, x[a:b], FEATURE_KEYS), y[a:b], "isotonic")
    return booster, cal


def predict_p(answer_rate: float, features: dict[str, np.ndarray]) -> np.ndarray:
    booster, cal = learned_model(answer_rate)
    return cal.apply(predict(booster, feature_matrix(features), FEATURE_KEYS))
