"""Lexicon sentiment per utterance and per call.

Utterance score = tanh(sum of hit polarities), in [-1, 1], after negation and intensifiers.
Call score = weighted mean over the utterances: utterances with opinion words weigh 1, those
without 0.25, and weights rise linearly to 1.5× towards the end of the call (how a call ends
says more than how it began).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from crm.analysis.keywords import KeywordHit

NEUTRAL_BAND = 0.2


class SentimentLabel(enum.StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float
    label: SentimentLabel
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallSentiment:
    score: float
    label: SentimentLabel
    negative_utterances: int
    positive_utterances: int
    utterances: int


def label_for(score: float) -> SentimentLabel:
    if score <= -NEUTRAL_BAND:
        return SentimentLabel.NEGATIVE
    if score >= NEUTRAL_BAND:
        return SentimentLabel.POSITIVE
    return SentimentLabel.NEUTRAL


def utterance_sentiment(hits: Sequence[KeywordHit]) -> Sentiment:
    opinionated = [h for h in hits if h.polarity]
    score = round(math.tanh(sum(h.polarity for h in opinionated)), 4)
    return Sentiment(score, label_for(score), tuple(h.term for h in opinionated))


def call_sentiment(utterances: Sequence[Sentiment]) -> CallSentiment:
    if not utterances:
        return CallSentiment(0.0, SentimentLabel.NEUTRAL, 0, 0, 0)
    n = len(utterances)
    total = weight_sum = 0.0
    for i, s in enumerate(utterances):
        recency = 1.0 + 0.5 * (i / (n - 1) if n > 1 else 1.0)
        weight = (1.0 if s.evidence else 0.25) * recency
        total += s.score * weight
        weight_sum += weight
    score = round(total / weight_sum, 4)
    return CallSentiment(
        score=score,
        label=label_for(score),
        negative_utterances=sum(s.label is SentimentLabel.NEGATIVE for s in utterances),
        positive_utterances=sum(s.label is SentimentLabel.POSITIVE for s in utterances),
        utterances=n,
    )
