"""Intent score 0–10 per call: what was said, how it ended, how long they talked.

A transparent additive model (every factor is returned, so a supervisor can see why):

* outcome base: a connected conversation starts at 3; voicemail 1; no answer/busy/failed 0,
  and nothing said can lift those (there was no conversation);
* talk time: +0 below 15 s, rising logarithmically to +2.5 at 5 minutes and beyond;
* keywords: the sum of the lexicon ``intent`` weights of distinct concepts the customer said
  (each concept once per call), clamped to [-4, +4];
* sentiment: call sentiment × 1.5.

The result is clamped to [0, 10] and rounded to one decimal.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from crm.analysis.keywords import KeywordHit
from crm.analysis.lexicon import Lexicon
from crm.analysis.sentiment import CallSentiment


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    ABANDONED = "abandoned"


_OUTCOME_BASE = {
    CallOutcome.ANSWERED: 3.0,
    CallOutcome.VOICEMAIL: 1.0,
    CallOutcome.NO_ANSWER: 0.0,
    CallOutcome.BUSY: 0.0,
    CallOutcome.FAILED: 0.0,
    CallOutcome.ABANDONED: 0.5,
}
TALK_MIN_S, TALK_FULL_S, TALK_MAX_POINTS = 15.0, 300.0, 2.5
KEYWORD_CLAMP = 4.0
SENTIMENT_WEIGHT = 1.5


@dataclass(frozen=True, slots=True)
class IntentFactor:
    name: str
    points: float
    detail: str


@dataclass(frozen=True, slots=True)
class IntentScore:
    score: float
    factors: tuple[IntentFactor, ...]

    @property
    def level(self) -> str:
        return "high" if self.score >= 7 else "low" if self.score < 4 else "medium"


def talk_time_points(talk_time_s: float) -> float:
    if talk_time_s <= TALK_MIN_S:
        return 0.0
    ratio = math.log(talk_time_s / TALK_MIN_S) / math.log(TALK_FULL_S / TALK_MIN_S)
    return round(TALK_MAX_POINTS * min(1.0, ratio), 3)


def keyword_points(hits: Iterable[KeywordHit], lexicon: Lexicon) -> tuple[float, tuple[str, ...]]:
    concepts = sorted({h.concept for h in hits if h.concept in lexicon.concepts})
    raw = sum(lexicon.concepts[c].intent for c in concepts)
    return max(-KEYWORD_CLAMP, min(KEYWORD_CLAMP, raw)), tuple(concepts)


def intent_score(
    outcome: CallOutcome,
    talk_time_s: float,
    customer_hits: Iterable[KeywordHit],
    sentiment: CallSentiment,
    lexicon: Lexicon,
) -> IntentScore:
    base = _OUTCOME_BASE[outcome]
    factors = [IntentFactor("outcome", base, outcome.value)]
    if outcome is CallOutcome.ANSWERED:
        words, concepts = keyword_points(customer_hits, lexicon)
        factors += [
            IntentFactor("talk_time", talk_time_points(talk_time_s), f"{talk_time_s:.0f} s"),
            IntentFactor("keywords", round(words, 3), ", ".join(concepts) or "none"),
            IntentFactor(
                "sentiment",
                round(sentiment.score * SENTIMENT_WEIGHT, 3),
                f"{sentiment.label.value} ({sentiment.score:+.2f})",
            ),
        ]
    total = sum(f.points for f in factors)
    return IntentScore(round(max(0.0, min(10.0, total)), 1), tuple(factors))
