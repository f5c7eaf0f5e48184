"""Conversion model on the customer's 360-degree view, and routing by propensity.

High propensity -> senior agents, low -> automated nurturing, the rest -> standard queue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import numpy as np
import xgboost as xgb

from predictive.errors import ModelError
from predictive.models.answer_model import ModelCard
from predictive.models.boosting import BoostParams, predict, train_binary
from predictive.models.calibration import Calibrator, fit_calibrator
from predictive.models.metrics import evaluate

MIN_ROWS = 500


@dataclass(frozen=True, slots=True)
class Customer360:
    customer_id: str
    calls: int
    connects: int
    total_talk_s: float
    last_talk_s: float
    days_since_last_contact: float
    dispositions: Mapping[str, int]  # e.g. {"callback": 2, "not_interested": 1}
    tags: frozenset[str]
    purchases: int
    purchase_value: float
    intent_score: float | None = None  # from speech analytics, when available
    converted: bool | None = None  # label, for training rows


@dataclass(frozen=True, slots=True)
class ConversionVocab:
    dispositions: tuple[str, ...]
    tags: tuple[str, ...]

    @staticmethod
    def fit(rows: Sequence[Customer360], max_tags: int = 20) -> ConversionVocab:
        disp = sorted({d for r in rows for d in r.dispositions})
        counts: dict[str, int] = {}
        for r in rows:
            for t in r.tags:
                counts[t] = counts.get(t, 0) + 1
        tags = sorted(sorted(counts, key=lambda t: -counts[t])[:max_tags])
        return ConversionVocab(tuple(disp), tuple(tags))

    def names(self) -> tuple[str, ...]:
        base = ("calls", "connects", "connect_rate", "total_talk_s", "mean_talk_s",
                "last_talk_s", "days_since_last_contact", "purchases", "purchase_value",
                "intent_score")
        return base + tuple(f"disp_{d}" for d in self.dispositions) + tuple(
            f"tag_{t}" for t in self.tags)

    def vector(self, r: Customer360) -> list[float]:
        mean_talk = r.total_talk_s / r.connects if r.connects else 0.0
        base = [
            float(r.calls), float(r.connects), r.connects / r.calls if r.calls else math.nan,
            r.total_talk_s, mean_talk, r.last_talk_s, r.days_since_last_contact,
            float(r.purchases), r.purchase_value,
            math.nan if r.intent_score is None else r.intent_score,
        ]
        return (base + [float(r.dispositions.get(d, 0)) for d in self.dispositions]
                + [float(t in r.tags) for t in self.tags])


class Route(Enum):
    SENIOR = "senior"
    STANDARD = "standard"
    NURTURE = "nurture"


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    senior_at: float = 0.30  # P(convert) at or above -> senior agents
    nurture_below: float = 0.05  # below -> automated nurturing

    def route(self, p_convert: float) -> Route:
        if p_convert >= self.senior_at:
            return Route.SENIOR
        if p_convert < self.nurture_below:
            return Route.NURTURE
        return Route.STANDARD

    @staticmethod
    def from_shares(scores: np.ndarray, senior_share: float = 0.2, nurture_share: float = 0.3
                    ) -> RoutingPolicy:
        """Thresholds that send the top ``senior_share`` to seniors, bottom share to nurture."""
        s = np.asarray(scores, float)
        return RoutingPolicy(float(np.quantile(s, 1 - senior_share)),
                             float(np.quantile(s, nurture_share)))


@dataclass(frozen=True, slots=True, eq=False)
class ConversionModel:
    booster: xgb.Booster
    calibrator: Calibrator
    vocab: ConversionVocab
    card: ModelCard

    def predict(self, rows: Sequence[Customer360]) -> np.ndarray:
        names = self.vocab.names()
        x = np.array([self.vocab.vector(r) for r in rows], dtype=np.float32)
        return self.calibrator.apply(predict(self.booster, x.reshape(len(rows), len(names)),
                                             names))


def train_conversion_model(rows: Sequence[Customer360], params: BoostParams | None = None,
                           now: datetime | None = None) -> ConversionModel:
    """60/20/20 split (train / calibrate+early-stop / test) in the given order."""
    labelled = [r for r in rows if r.converted is not None]
    if len(labelled) < MIN_ROWS:
        raise ModelError(f"need >= {MIN_ROWS} labelled customers, got {len(labelled)}")
    vocab = ConversionVocab.fit(labelled)
    names = vocab.names()
    x = np.array([vocab.vector(r) for r in labelled], dtype=np.float32)
    y = np.array([float(bool(r.converted)) for r in labelled], dtype=np.float32)
    a, b = int(0.6 * len(y)), int(0.8 * len(y))
    booster = train_binary(x[:a], y[:a], x[a:b], y[a:b], params or BoostParams(), names)
    cal = fit_calibrator(predict(booster, x[a:b], names), y[a:b])
    raw = predict(booster, x[b:], names)
    metrics = evaluate(raw, cal.apply(raw), y[b:], float(y[:b].mean()))
    now = now or datetime.now(UTC)
    version = f"conversion-{now:%Y%m%d%H%M%S}-{len(y)}"
    card = ModelCard("conversion", version, now.isoformat(), a, b - a, cal.method, names, metrics)
    return ConversionModel(booster, cal, vocab, card)
