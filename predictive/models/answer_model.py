"""Answer-probability model: XGBoost (native API) + held-out calibration + a thin-data prior.

Training splits the history *by time*: the oldest 60 % train the booster, the next 20 %
fit the calibrator (isotonic, or Platt when small) and pick the early-stopping round, the
newest 20 % are the test set the metrics come from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import xgboost as xgb

from predictive.errors import ModelError
from predictive.models.boosting import BoostParams, predict, train_binary
from predictive.models.calibration import Calibrator, fit_calibrator
from predictive.models.features import FEATURES, ListRateTracker, Vocab, extract, row_vector
from predictive.models.history import CallHistoryRow
from predictive.models.metrics import ModelMetrics, evaluate
from predictive.models.prior import BetaBinomialPrior

MIN_TRAIN_ROWS = 2000


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What was trained, on what, and how well it did on held-out data."""

    kind: str
    version: str
    trained_at: str
    n_train: int
    n_calibration: int
    calibration: str
    features: tuple[str, ...]
    metrics: ModelMetrics


@dataclass(frozen=True, slots=True, eq=False)
class AnswerModel:
    booster: xgb.Booster
    calibrator: Calibrator
    vocab: Vocab
    card: ModelCard

    def predict_rows(self, rows: Sequence[CallHistoryRow], list_rates: dict[str, float]
                     ) -> np.ndarray:
        """Calibrated P(live) for prospective attempts (``outcome`` is ignored)."""
        x = np.array(
            [row_vector(r, self.vocab, list_rates.get(r.list_id, np.nan)) for r in rows],
            dtype=np.float32,
        ).reshape(len(rows), len(FEATURES))
        return self.calibrator.apply(predict(self.booster, x, FEATURES))


def _version(kind: str, rows: Sequence[CallHistoryRow], now: datetime) -> str:
    h = hashlib.sha1(f"{len(rows)}{rows[0].attempted_at}{rows[-1].attempted_at}".encode())
    return f"{kind}-{now:%Y%m%d%H%M%S}-{h.hexdigest()[:8]}"


def train_answer_model(
    rows: Sequence[CallHistoryRow], params: BoostParams | None = None,
    calibration: str = "auto", now: datetime | None = None,
) -> AnswerModel:
    """Train and calibrate on ``rows`` (any order; sorted by ``attempted_at`` here)."""
    if len(rows) < MIN_TRAIN_ROWS:
        raise ModelError(f"need >= {MIN_TRAIN_ROWS} rows to train, got {len(rows)}")
    rows = sorted(rows, key=lambda r: r.attempted_at)
    vocab = Vocab.fit(rows)
    x, y = extract(rows, vocab, ListRateTracker())
    a, b = int(0.6 * len(rows)), int(0.8 * len(rows))
    booster = train_binary(x[:a], y[:a], x[a:b], y[a:b], params or BoostParams(), FEATURES)
    cal = fit_calibrator(predict(booster, x[a:b], FEATURES), y[a:b], calibration)
    raw_test = predict(booster, x[b:], FEATURES)
    metrics = evaluate(raw_test, cal.apply(raw_test), y[b:], float(np.mean(y[:b])))
    now = now or datetime.now(UTC)
    card = ModelCard("answer", _version("answer", rows, now), now.isoformat(), a, b - a,
                     cal.method, FEATURES, metrics)
    return AnswerModel(booster, cal, vocab, card)


@dataclass(frozen=True, slots=True, eq=False)
class AnswerScorer:
    """The model when there is one, else the Beta-Binomial prior by (list, hour)."""

    prior: BetaBinomialPrior
    model: AnswerModel | None = None

    def score(self, rows: Sequence[CallHistoryRow], list_rates: dict[str, float]
              ) -> tuple[np.ndarray, str]:
        if self.model is not None:
            return self.model.predict_rows(rows, list_rates), self.model.card.version
        return np.array([self.prior.mean(r.list_id, r.local_hour) for r in rows]), "prior"


def build_scorer(rows: Sequence[CallHistoryRow], **train_kw: object) -> AnswerScorer:
    """A scorer for this history: the prior alone when history is thin."""
    prior = BetaBinomialPrior.fit(rows)
    if len(rows) < MIN_TRAIN_ROWS:
        return AnswerScorer(prior)
    return AnswerScorer(prior, train_answer_model(rows, **train_kw))  # type: ignore[arg-type]
