"""Text analysis of call transcripts: keywords (zh+en, negation-aware), sentiment, intent
score and relative dates. Pure functions over frozen dataclasses; no I/O besides loading a
lexicon file.

Typical use::

    lexicon = load_lexicon()                       # packaged default_lexicon.yaml
    u = analyse_utterance("价格太贵了，下周再联系", lexicon, now, "Asia/Shanghai")
    u.concepts   -> {"price", "too_expensive", "callback_request"}
    u.sentiment  -> Sentiment(score=-0.54, label=NEGATIVE, ...)
    u.dates      -> (DateMention("下周", when=next Monday 10:00 +08:00, precision=WEEK),)
    call = analyse_call([u, ...], CallOutcome.ANSWERED, talk_time_s=184, lexicon=lexicon)
    call.intent.score -> 0..10
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from crm.analysis.dates import DateMention, Precision, earliest_future, resolve_dates
from crm.analysis.errors import AnalysisError, LexiconError
from crm.analysis.intent import CallOutcome, IntentFactor, IntentScore, intent_score
from crm.analysis.keywords import KeywordHit, concepts_in, scan, spot_keywords
from crm.analysis.lexicon import Concept, Lexicon, load_lexicon, parse_lexicon
from crm.analysis.sentiment import (
    CallSentiment,
    Sentiment,
    SentimentLabel,
    call_sentiment,
    utterance_sentiment,
)

CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class UtteranceAnalysis:
    text: str
    speaker: str
    hits: tuple[KeywordHit, ...]
    sentiment: Sentiment
    dates: tuple[DateMention, ...]

    @property
    def concepts(self) -> frozenset[str]:
        return concepts_in(self.hits)


@dataclass(frozen=True, slots=True)
class CallAnalysis:
    sentiment: CallSentiment
    intent: IntentScore
    concepts: frozenset[str]


def analyse_utterance(
    text: str,
    lexicon: Lexicon,
    now: datetime | None = None,
    tz: str | tzinfo | None = None,
    speaker: str = CUSTOMER,
) -> UtteranceAnalysis:
    """Keywords, sentiment and (when ``now`` and ``tz`` are given) resolved dates of one text."""
    all_hits = scan(text, lexicon)
    dates = resolve_dates(text, now, tz) if now is not None and tz is not None else ()
    return UtteranceAnalysis(
        text=text,
        speaker=speaker,
        hits=tuple(h for h in all_hits if h.concept),
        sentiment=utterance_sentiment(all_hits),
        dates=dates,
    )


def analyse_call(
    utterances: Sequence[UtteranceAnalysis],
    outcome: CallOutcome,
    talk_time_s: float,
    lexicon: Lexicon,
) -> CallAnalysis:
    """Call-level sentiment and intent from the customer's utterances (agent's are ignored)."""
    customer = [u for u in utterances if u.speaker == CUSTOMER]
    sentiment = call_sentiment([u.sentiment for u in customer])
    hits = [h for u in customer for h in u.hits]
    return CallAnalysis(
        sentiment=sentiment,
        intent=intent_score(outcome, talk_time_s, hits, sentiment, lexicon),
        concepts=concepts_in(hits),
    )


__all__ = [
    "AnalysisError", "CallAnalysis", "CallOutcome", "CallSentiment", "Concept", "DateMention",
    "IntentFactor", "IntentScore", "KeywordHit", "Lexicon", "LexiconError", "Precision",
    "Sentiment", "SentimentLabel", "UtteranceAnalysis", "analyse_call", "analyse_utterance",
    "call_sentiment", "concepts_in", "earliest_future", "intent_score", "load_lexicon",
    "parse_lexicon", "resolve_dates", "scan", "spot_keywords", "utterance_sentiment",
]
