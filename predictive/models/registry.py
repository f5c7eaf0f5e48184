"""Versioned model storage (an adapter: file I/O lives here, not in the pure core).

Layout: ``<root>/<version>/{model.json, calibrator.json, vocab.json, card.json}``; the
card holds the held-out metrics, so every stored version carries how well it did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import xgboost as xgb

from predictive.errors import ModelError
from predictive.models.answer_model import (
    MIN_TRAIN_ROWS,
    AnswerModel,
    ModelCard,
    train_answer_model,
)
from predictive.models.calibration import Calibrator, ReliabilityBin
from predictive.models.features import Vocab
from predictive.models.history import CallHistoryRow
from predictive.models.metrics import ModelMetrics


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, model: AnswerModel) -> Path:
        d = self.root / model.card.version
        d.mkdir(parents=True, exist_ok=False)
        model.booster.save_model(str(d / "model.json"))
        (d / "calibrator.json").write_text(json.dumps(model.calibrator.to_dict()))
        (d / "vocab.json").write_text(json.dumps(asdict(model.vocab)))
        (d / "card.json").write_text(json.dumps(asdict(model.card), indent=1, default=str))
        return d

    def versions(self, kind: str = "answer") -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.name.startswith(kind + "-") and (p / "card.json").exists())

    def load(self, version: str | None = None, kind: str = "answer") -> AnswerModel:
        versions = self.versions(kind)
        if not versions:
            raise ModelError(f"no {kind} model stored under {self.root}")
        version = version or versions[-1]
        d = self.root / version
        if not (d / "card.json").exists():
            raise ModelError(f"unknown model version {version!r}")
        booster = xgb.Booster()
        booster.load_model(str(d / "model.json"))
        cal = Calibrator.from_dict(json.loads((d / "calibrator.json").read_text()))
        v = json.loads((d / "vocab.json").read_text())
        vocab = Vocab(tuple(v["number_type"]), tuple(v["region"]), tuple(v["list_id"]))
        return AnswerModel(booster, cal, vocab, _card(json.loads((d / "card.json").read_text())))


def _card(raw: dict) -> ModelCard:
    m = raw["metrics"]
    m["reliability"] = tuple(ReliabilityBin(**b) for b in m["reliability"])
    raw["metrics"] = ModelMetrics(**m)
    raw["features"] = tuple(raw["features"])
    return ModelCard(**raw)


def should_retrain(card: ModelCard, now: datetime, rows_since: int, max_age_days: float = 7,
                   max_new_fraction: float = 0.25) -> bool:
    """Periodic retraining: weekly, or sooner once enough new history has arrived."""
    trained = datetime.fromisoformat(card.trained_at)
    if trained.tzinfo is None and now.tzinfo is not None:
        trained = trained.replace(tzinfo=now.tzinfo)
    too_old = now - trained > timedelta(days=max_age_days)
    return too_old or rows_since > max_new_fraction * card.n_train


def retrain_if_due(
    registry: ModelRegistry, rows: Sequence[CallHistoryRow], now: datetime,
    max_age_days: float = 7, max_new_fraction: float = 0.25,
) -> tuple[AnswerModel | None, str]:
    """One run of the periodic retraining job (the scheduler calls it, e.g. hourly).

    Loads the newest stored version; when none exists or :func:`should_retrain` says so
    (counting the ``rows`` newer than that version's training data), trains on all
    ``rows``, stores the new version with its held-out metrics and returns it. Returns
    ``(model, why)``; ``model`` is None while history is too thin (the scorer then uses
    the Beta-Binomial prior) and ``why`` says which case applied.
    """
    current = registry.load() if registry.versions() else None
    if current is not None:
        trained = datetime.fromisoformat(current.card.trained_at)
        if trained.tzinfo is None and now.tzinfo is not None:
            trained = trained.replace(tzinfo=now.tzinfo)
        since = sum(1 for r in rows if _aware(r.attempted_at, now) > trained)
        if not should_retrain(current.card, now, since, max_age_days, max_new_fraction):
            return current, f"kept {current.card.version} ({since} new rows)"
    if len(rows) < MIN_TRAIN_ROWS:
        return current, f"too little history to train ({len(rows)}/{MIN_TRAIN_ROWS} rows)"
    model = train_answer_model(rows, now=now)
    registry.save(model)
    old = current.card.version if current else "none"
    return model, f"trained {model.card.version} (replaces {old})"


def _aware(t: datetime, like: datetime) -> datetime:
    return t.replace(tzinfo=like.tzinfo) if t.tzinfo is None and like.tzinfo else t
