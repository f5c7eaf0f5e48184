"""Thin wrapper over XGBoost's native API (binary classification)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xgboost as xgb


@dataclass(frozen=True, slots=True)
class BoostParams:
    max_depth: int = 4
    eta: float = 0.08
    subsample: float = 0.8
    colsample_bytree: float = 0.9
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    rounds: int = 300
    early_stopping: int = 25
    nthread: int = 1
    seed: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def as_xgb(self) -> dict[str, object]:
        return {
            "objective": "binary:logistic", "eval_metric": "logloss",
            "max_depth": self.max_depth, "eta": self.eta, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda, "nthread": self.nthread, "seed": self.seed,
            "tree_method": "hist", **self.extra,
        }


def train_binary(
    x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, params: BoostParams,
    names: Sequence[str],
) -> xgb.Booster:
    dtrain = xgb.DMatrix(x, label=y, feature_names=list(names))
    dval = xgb.DMatrix(x_val, label=y_val, feature_names=list(names))
    return xgb.train(
        params.as_xgb(), dtrain, num_boost_round=params.rounds, evals=[(dval, "val")],
        early_stopping_rounds=params.early_stopping, verbose_eval=False,
    )


def predict(booster: xgb.Booster, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    d = xgb.DMatrix(x, feature_names=list(names))
    best = getattr(booster, "best_iteration", None)
    rng = (0, best + 1) if best is not None else (0, 0)
    return np.asarray(booster.predict(d, iteration_range=rng), dtype=float)
