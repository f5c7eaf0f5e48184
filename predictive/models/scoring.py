"""Turn hopper leads into ``QueuedLead`` values with model probabilities (adapter side)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from predictive.models.answer_model import AnswerScorer
from predictive.models.features import ListRateTracker
from predictive.models.history import CallHistoryRow
from predictive.pacing.types import QueuedLead


def queued_leads(
    scorer: AnswerScorer, prospective: Sequence[tuple[Hashable, CallHistoryRow]],
    tracker: ListRateTracker,
) -> tuple[tuple[QueuedLead, ...], str]:
    """Score the next attempt of each (lead id, prospective row), keeping hopper order.

    A prospective row describes the attempt about to be made (local hour now, attempts so
    far, last outcome...); its ``outcome`` is ignored. Returns the leads and the model
    version used (``"prior"`` when history was too thin for a model).
    """
    if not prospective:
        return (), "none"
    rows = [row for _, row in prospective]
    rates = {r.list_id: tracker.rate(r.list_id) for r in rows}
    p, source = scorer.score(rows, rates)
    leads = tuple(QueuedLead(lid, float(x)) for (lid, _), x in zip(prospective, p, strict=True))
    return leads, source
