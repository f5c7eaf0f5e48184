"""Versioned model storage (an adapter: file I/O lives here, not in the pure core).

One store for every model kind (:class:`VersionStore`): ``<root>/<kind>-<stamp>/``, one
directory a version, complete once its last file is written; the newest complete version is
the current one (loaded once per version). The answer model (:class:`ModelRegistry`) keeps
``{model.json, calibrator.json, vocab.json, card.json}`` (``card.json`` last), the conversion
model (:func:`conversion_store`) the same plus ``routing.json`` (last). The card holds the
held-out metrics, so every stored version carries how well it did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import xgboost as xgb

from predictive.errors import ModelError
from predictive.models.answer_model import (
    MIN_TRAIN_ROWS,
    AnswerModel,
    ModelCard,
    train_answer_model,
)
from predictive.models.calibration import Calibrator, ReliabilityBin
from predictive.models.conversion import ConversionModel, ConversionVocab, RoutingPolicy
from predictive.models.features import Vocab
from predictive.models.history import CallHistoryRow
from predictive.models.metrics import ModelMetrics
from predictive.private_files import DIR_MODE, private_dir, write_private

M = TypeVar("M")


class VersionStore(Generic[M]):
    """Versions of one model kind under ``root``: ``write(dir, model)`` stores one (its
    ``complete`` file last), ``read(dir)`` loads one, ``version_of(model)`` names it."""

    def __init__(self, root: Path, kind: str, complete: str, *,
                 write: Callable[[Path, M], None], read: Callable[[Path], M],
                 version_of: Callable[[M], str]) -> None:
        self.root, self.kind, self.complete = root, kind, complete
        self._write, self._read, self._version_of = write, read, version_of
        self._current: tuple[str, M] | None = None  # (version, model): the last one loaded

    def versions(self) -> list[str]:
        """The complete versions, oldest first (names sort by time)."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.name.startswith(self.kind + "-") and (p / self.complete).exists())

    def save(self, model: M) -> Path:
        version = self._version_of(model)
        d = self.root / version
        private_dir(self.root)  # files 0600, folders 0700 (predictive.private_files)
        d.mkdir(mode=DIR_MODE)
        self._write(d, model)
        self._current = (version, model)
        return d

    def load(self, version: str | None = None) -> M:
        """A stored version (``None``: the newest); :class:`ModelError` if there is none."""
        versions = self.versions()
        if not versions:
            raise ModelError(f"no {self.kind} model stored under {self.root}")
        version = version or versions[-1]
        if version not in versions:
            raise ModelError(f"unknown model version {version!r}")
        return self._read(self.root / version)

    def current(self) -> M | None:
        """The newest stored version (``None``: none yet), read once per version; a version
        that cannot be read raises (the caller decides whether to keep the previous one)."""
        versions = self.versions()
        if not versions:
            return None
        if self._current is None or self._current[0] != versions[-1]:
            self._current = (versions[-1], self.load(versions[-1]))
        return self._current[1]


# ------------------------------------------------------------------ the file layout --
def card_from_dict(raw: dict[str, Any]) -> ModelCard:
    m = dict(raw["metrics"])
    m["reliability"] = tuple(ReliabilityBin(**b) for b in m["reliability"])
    return ModelCard(**{**raw, "metrics": ModelMetrics(**m), "features": tuple(raw["features"])})


def _write_parts(d: Path, booster: xgb.Booster, calibrator: Calibrator, vocab: Any,
                 card: ModelCard) -> None:
    write_private(d / "model.json", bytes(booster.save_raw(raw_format="json")))
    write_private(d / "calibrator.json", json.dumps(calibrator.to_dict()))
    write_private(d / "vocab.json", json.dumps(asdict(vocab)))
    write_private(d / "card.json", json.dumps(asdict(card), indent=1, default=str))


def _read_parts(d: Path) -> tuple[xgb.Booster, Calibrator, dict[str, Any], ModelCard]:
    booster = xgb.Booster()
    booster.load_model(str(d / "model.json"))
    cal = Calibrator.from_dict(json.loads((d / "calibrator.json").read_text()))
    vocab = json.loads((d / "vocab.json").read_text())
    return booster, cal, vocab, card_from_dict(json.loads((d / "card.json").read_text()))


def _write_answer(d: Path, model: AnswerModel) -> None:
    _write_parts(d, model.booster, model.calibrator, model.vocab, model.card)  # card last


def _read_answer(d: Path) -> AnswerModel:
    booster, cal, v, card = _read_parts(d)
    return AnswerModel(booster, cal, Vocab(tuple(v["number_type"]), tuple(v["region"]),
                                           tuple(v["list_id"])), card)


class ModelRegistry(VersionStore[AnswerModel]):
    """The answer model's versions (``answer-<stamp>``)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, "answer", "card.json", write=_write_answer, read=_read_answer,
                         version_of=lambda model: model.card.version)


Conversion = tuple[ConversionModel, RoutingPolicy]


def _write_conversion(d: Path, stored: Conversion) -> None:
    model, policy = stored
    _write_parts(d, model.booster, model.calibrator, model.vocab, model.card)
    write_private(d / "routing.json", json.dumps(asdict(policy)))  # written last: complete


def _read_conversion(d: Path) -> Conversion:
    booster, cal, v, card = _read_parts(d)
    vocab = ConversionVocab(tuple(v["dispositions"]), tuple(v["tags"]))
    policy = RoutingPolicy(**json.loads((d / "routing.json").read_text()))
    return ConversionModel(booster, cal, vocab, card), policy


def conversion_store(root: Path) -> VersionStore[Conversion]:
    """The conversion model's versions (``conversion-<stamp>-<n>``), with the routing policy
    fitted with each."""
    return VersionStore(root, "conversion", "routing.json", write=_write_conversion,
                        read=_read_conversion, version_of=lambda stored: stored[0].card.version)


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
    current = registry.current()
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
