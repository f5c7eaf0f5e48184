"""Keyword spotting with negation, for Chinese and English in the same utterance.

Both languages are scanned on every text (a Chinese customer may say "price" or "OK"): English
terms match on word boundaries, case-insensitively; Chinese terms as substrings. Overlapping
candidates are resolved longest-first ("不感兴趣" beats "感兴趣", "do not call" beats "call
me"); a match inside one of the concept's ``exclude`` phrases ("贵公司") is dropped.

A hit is *negated* when a negator precedes it within the lexicon's window, inside the same
clause (punctuation and "but"/"但是" end a clause): "不贵", "不太贵", "it's not that
expensive". A negated hit of a concept with ``when_negated`` is reported as that concept
("不贵" → ``price_ok``); otherwise it keeps its concept with ``negated=True`` and its polarity
flipped and damped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from crm.analysis.lexicon import Concept, Lexicon, Negators

NEGATED_POLARITY_FACTOR = -0.8
INTENSIFIER_FACTOR = 1.5
_CLAUSE_BREAK_EN = re.compile(r"[,.;:!?，。；：！？]|\bbut\b|\bhowever\b|\bthough\b", re.I)
_CLAUSE_BREAK_ZH = re.compile(r"[,.;:!?，。；：！？、\s]|但是|可是|不过|但")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?", re.I)


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """One spotted term. ``concept`` is the effective concept after negation mapping."""

    concept: str
    term: str
    start: int
    end: int
    language: str
    negated: bool = False
    source_concept: str | None = None
    polarity: float = 0.0


@dataclass(frozen=True, slots=True)
class _Candidate:
    concept: Concept | None
    polarity: float
    term: str
    start: int
    end: int
    language: str


def _en_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.lower().split()]
    return re.compile(r"(?<![a-z0-9'])" + r"\s+".join(words) + r"(?![a-z0-9])", re.I)


@lru_cache(maxsize=4096)
def _compiled(term: str, language: str) -> re.Pattern[str]:
    return _en_pattern(term) if language == "en" else re.compile(re.escape(term))


def _find(text: str, term: str, language: str) -> Iterable[tuple[int, int]]:
    for m in _compiled(term, language).finditer(text):
        yield m.start(), m.end()


def _excluded(text: str, start: int, end: int, phrases: Iterable[str], language: str) -> bool:
    return any(s <= start and end <= e for p in phrases for s, e in _find(text, p, language))


def _candidates(text: str, lexicon: Lexicon) -> list[_Candidate]:
    found: list[_Candidate] = []
    for concept in lexicon.concepts.values():
        for language, terms in concept.terms.items():
            excludes = concept.exclude.get(language, ())
            for term in terms:
                for start, end in _find(text, term, language):
                    if not _excluded(text, start, end, excludes, language):
                        found.append(
                            _Candidate(concept, concept.sentiment, term, start, end, language)
                        )
    for language, words in lexicon.sentiment_words.items():
        for word, polarity in words.items():
            for start, end in _find(text, word, language):
                found.append(_Candidate(None, polarity, word, start, end, language))
    return found


def _non_overlapping(candidates: list[_Candidate]) -> list[_Candidate]:
    """Longest first; concept terms win over bare sentiment words of the same length."""
    ordered = sorted(
        candidates, key=lambda c: (-(c.end - c.start), c.concept is None, c.start)
    )
    taken: list[_Candidate] = []
    for cand in ordered:
        if all(cand.end <= t.start or cand.start >= t.end for t in taken):
            taken.append(cand)
    return sorted(taken, key=lambda c: c.start)


def _clause_before(text: str, start: int, language: str) -> str:
    before = text[:start]
    pattern = _CLAUSE_BREAK_EN if language == "en" else _CLAUSE_BREAK_ZH
    breaks = list(pattern.finditer(before))
    return before[breaks[-1].end() :] if breaks else before


def _negated_en(clause: str, neg: Negators) -> bool:
    tokens = [t.lower() for t in _WORD.findall(clause)]
    window = tokens[-neg.window :]
    if tokens and tokens[-1] in neg.adjacent:
        return True
    return any(t in neg.words or t.endswith("n't") for t in window)


def _negated_zh(clause: str, neg: Negators) -> bool:
    window = clause[-neg.window :]
    if any(clause.endswith(a) for a in neg.adjacent):
        return True
    return any(w in window for w in neg.words)


def _is_negated(text: str, cand: _Candidate, lexicon: Lexicon) -> bool:
    neg = lexicon.negators.get(cand.language)
    if neg is None:
        return False
    clause = _clause_before(text, cand.start, cand.language)
    return _negated_en(clause, neg) if cand.language == "en" else _negated_zh(clause, neg)


def _intensified(text: str, cand: _Candidate, lexicon: Lexicon) -> bool:
    words = lexicon.intensifiers.get(cand.language, ())
    before = text[: cand.start].rstrip().lower()
    if cand.language == "en":
        return any(re.search(rf"(?<![a-z]){re.escape(w)}$", before) for w in words)
    return any(before.endswith(w) for w in words)


def _to_hit(text: str, cand: _Candidate, lexicon: Lexicon) -> KeywordHit:
    negated = _is_negated(text, cand, lexicon)
    polarity = cand.polarity * (INTENSIFIER_FACTOR if _intensified(text, cand, lexicon) else 1.0)
    name = cand.concept.name if cand.concept else ""
    source = None
    if negated and cand.concept and cand.concept.when_negated:
        source, name = name, cand.concept.when_negated
        polarity = lexicon.concepts[name].sentiment
    elif negated:
        polarity *= NEGATED_POLARITY_FACTOR
    return KeywordHit(
        concept=name,
        term=text[cand.start : cand.end],
        start=cand.start,
        end=cand.end,
        language=cand.language,
        negated=negated,
        source_concept=source,
        polarity=round(max(-1.0, min(1.0, polarity)), 4),
    )


def scan(text: str, lexicon: Lexicon) -> tuple[KeywordHit, ...]:
    """All hits in ``text``: concept hits and bare sentiment-word hits (``concept == ""``)."""
    chosen = _non_overlapping(_candidates(text, lexicon))
    return tuple(_to_hit(text, c, lexicon) for c in chosen)


def spot_keywords(text: str, lexicon: Lexicon) -> tuple[KeywordHit, ...]:
    """Concept hits only, in text order, with negation resolved."""
    return tuple(h for h in scan(text, lexicon) if h.concept)


def concepts_in(hits: Iterable[KeywordHit]) -> frozenset[str]:
    return frozenset(h.concept for h in hits if h.concept)
