"""Held-out metrics of a calibrated binary model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from predictive.models.calibration import (
    ReliabilityBin,
    auc,
    brier,
    expected_calibration_error,
    log_loss,
    reliability_table,
)


@dataclass(frozen=True, slots=True)
class ModelMetrics:
    n: int
    base_rate: float
    brier: float
    log_loss: float
    auc: float
    ece: float
    brier_raw: float
    log_loss_raw: float
    brier_base_rate: float  # the same rows scored with one pooled rate
    reliability: tuple[ReliabilityBin, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate(raw: np.ndarray, calibrated: np.ndarray, y: np.ndarray, pooled: float
             ) -> ModelMetrics:
    return ModelMetrics(
        n=len(y), base_rate=float(np.mean(y)) if len(y) else 0.0,
        brier=brier(calibrated, y), log_loss=log_loss(calibrated, y), auc=auc(calibrated, y),
        ece=expected_calibration_error(calibrated, y), brier_raw=brier(raw, y),
        log_loss_raw=log_loss(raw, y), brier_base_rate=brier(np.full(len(y), pooled), y),
        reliability=tuple(reliability_table(calibrated, y)),
    )


def format_reliability(m: ModelMetrics) -> str:
    lines = ["  bin        n   predicted  observed"]
    for b in m.reliability:
        lines.append(
            f"  {b.lo:.1f}-{b.hi:.1f} {b.n:6d}   {b.mean_predicted:8.3f}  {b.observed:8.3f}"
        )
    return "\n".join(lines)
