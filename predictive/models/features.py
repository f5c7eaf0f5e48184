"""Feature extraction for the answer model (leak-free, over ``CallHistoryRow``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from predictive.models.history import OUTCOMES, CallHistoryRow

FEATURES = (
    "local_hour", "local_weekday", "attempt_no", "hours_since_last", "last_outcome",
    "number_type", "region", "list_id", "lead_age_days", "list_contact_rate",
)


@dataclass(frozen=True, slots=True)
class Vocab:
    """Categorical codes fitted on training rows; unseen values map to NaN (missing)."""

    number_type: tuple[str, ...]
    region: tuple[str, ...]
    list_id: tuple[str, ...]

    @staticmethod
    def fit(rows: Sequence[CallHistoryRow]) -> Vocab:
        return Vocab(
            tuple(sorted({r.number_type for r in rows})), tuple(sorted({r.region for r in rows})),
            tuple(sorted({r.list_id for r in rows})),
        )

    def code(self, field: str, value: str) -> float:
        values: tuple[str, ...] = getattr(self, field)
        return float(values.index(value)) if value in values else math.nan


class ListRateTracker:
    """Exponentially weighted live-answer rate per list, with a Beta prior."""

    def __init__(self, half_life: float = 500.0, prior_rate: float = 0.2, prior_n: float = 20.0):
        self._d = 0.5 ** (1.0 / half_life)
        self._prior = (prior_rate * prior_n, prior_n)
        self._state: dict[str, tuple[float, float]] = {}

    def rate(self, list_id: str) -> float:
        live, n = self._state.get(list_id, (0.0, 0.0))
        return (live + self._prior[0]) / (n + self._prior[1])

    def update(self, list_id: str, live: bool) -> None:
        s, n = self._state.get(list_id, (0.0, 0.0))
        self._state[list_id] = (s * self._d + float(live), n * self._d + 1.0)


def row_vector(row: CallHistoryRow, vocab: Vocab, list_rate: float) -> list[float]:
    last = OUTCOMES.index(row.last_outcome) if row.last_outcome in OUTCOMES else math.nan
    return [
        float(row.local_hour), float(row.local_weekday), float(row.attempt_no),
        math.nan if row.hours_since_last is None else row.hours_since_last, last,
        vocab.code("number_type", row.number_type), vocab.code("region", row.region),
        vocab.code("list_id", row.list_id), row.lead_age_days, list_rate,
    ]


def extract(
    rows: Sequence[CallHistoryRow], vocab: Vocab, tracker: ListRateTracker | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) for rows in time order; each row sees only its list's earlier outcomes."""
    tracker = tracker or ListRateTracker()
    x = np.empty((len(rows), len(FEATURES)), dtype=np.float32)
    y = np.empty(len(rows), dtype=np.float32)
    for i, row in enumerate(rows):
        x[i] = row_vector(row, vocab, tracker.rate(row.list_id))
        y[i] = float(row.live)
        tracker.update(row.list_id, row.live)
    return x, y
