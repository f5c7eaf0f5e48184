"""Choosing the recommended call script from a customer's tags (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScriptCandidate:
    id: str
    name: str
    language: str
    tags: frozenset[str]
    priority: int
    body: str


def recommend_script(
    candidates: Iterable[ScriptCandidate], customer_tags: Sequence[str], language: str
) -> ScriptCandidate | None:
    """Most matching tags first, then the requested language, then priority, then name.

    A template with no tags is a fallback that matches anyone; one whose tags do not meet the
    customer's at all is not recommended.
    """
    wanted = {t.casefold() for t in customer_tags}

    def score(c: ScriptCandidate) -> tuple[int, int, int, str]:
        overlap = len({t.casefold() for t in c.tags} & wanted)
        return (overlap, int(c.language == language), c.priority, c.name)

    eligible = [c for c in candidates if not c.tags or {t.casefold() for t in c.tags} & wanted]
    if not eligible:
        return None
    best = max(eligible, key=score)
    return best
