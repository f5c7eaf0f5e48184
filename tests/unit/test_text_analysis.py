"""Keyword spotting, negation, sentiment and intent (crm.analysis)."""

from __future__ import annotations

import pytest

from crm.analysis import (
    CallOutcome,
    LexiconError,
    SentimentLabel,
    analyse_call,
    analyse_utterance,
    load_lexicon,
    parse_lexicon,
    spot_keywords,
)


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


def concepts(text, lexicon):
    return {h.concept for h in spot_keywords(text, lexicon)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("价格太贵了", {"price", "too_expensive"}),
        ("我们想和你们长期合作", {"cooperation"}),
        ("下周再联系吧", {"callback_request"}),
        ("The price is too expensive for us.", {"price", "too_expensive"}),
        ("We are interested in a long term cooperation.", {"interested", "cooperation"}),
        ("Can you send me a quote?", {"price"}),
        ("Call me back next week.", {"callback_request"}),
    ],
)
def test_given_seed_phrases_when_spotting_then_concepts_found(text, expected, lexicon):
    assert expected <= concepts(text, lexicon)


@pytest.mark.parametrize(
    "text",
    ["不贵", "这个不太贵", "其实并不贵", "It's not expensive", "it is not that expensive",
     "honestly it isn't too expensive"],
)
def test_given_negated_expensive_when_spotting_then_not_too_expensive(text, lexicon):
    hits = spot_keywords(text, lexicon)
    assert "too_expensive" not in {h.concept for h in hits}
    negated = [h for h in hits if h.negated]
    assert negated and negated[0].concept == "price_ok"
    assert negated[0].source_concept == "too_expensive"


@pytest.mark.parametrize(
    "text", ["太贵了", "贵", "No, it's too expensive", "not sure, too expensive"])
def test_given_negator_outside_clause_when_spotting_then_still_too_expensive(text, lexicon):
    assert "too_expensive" in concepts(text, lexicon)


def test_given_honorific_gui_when_spotting_then_no_expensive_hit(lexicon):
    assert concepts("贵公司的产品我了解过", lexicon) == set()


def test_given_not_interested_when_spotting_then_longest_match_wins(lexicon):
    assert concepts("我不感兴趣", lexicon) == {"not_interested"}
    assert concepts("I am not interested", lexicon) == {"not_interested"}
    assert concepts("do not call me again", lexicon) == {"not_interested"}


def test_given_in_order_to_when_spotting_then_no_cooperation(lexicon):
    assert "cooperation" not in concepts("in order to decide", lexicon)


def test_given_mixed_language_when_spotting_then_both_languages_found(lexicon):
    assert {"price", "discount"} <= concepts("这个price能不能打折", lexicon)


def test_given_too_expensive_when_analysing_then_negative_sentiment(lexicon):
    u = analyse_utterance("价格太贵了", lexicon)
    assert u.sentiment.label is SentimentLabel.NEGATIVE
    assert analyse_utterance("价格不贵", lexicon).sentiment.label is SentimentLabel.POSITIVE


def test_given_neutral_text_when_analysing_then_neutral(lexicon):
    assert analyse_utterance("我在开会", lexicon).sentiment.label is SentimentLabel.NEUTRAL
    assert analyse_utterance("not bad at all", lexicon).sentiment.score > 0


def test_given_interested_long_call_when_scoring_then_high_intent(lexicon):
    utts = [analyse_utterance(t, lexicon) for t in
            ("我对合作很感兴趣", "价格多少钱", "可以，发个报价给我")]
    call = analyse_call(utts, CallOutcome.ANSWERED, talk_time_s=240, lexicon=lexicon)
    assert call.intent.score >= 7
    assert call.intent.level == "high"
    names = {f.name for f in call.intent.factors}
    assert names == {"outcome", "talk_time", "keywords", "sentiment"}


def test_given_not_interested_short_call_when_scoring_then_low_intent(lexicon):
    utts = [analyse_utterance("I am not interested, remove my number", lexicon)]
    call = analyse_call(utts, CallOutcome.ANSWERED, talk_time_s=12, lexicon=lexicon)
    assert call.intent.score < 2
    assert call.intent.level == "low"


def test_given_no_answer_when_scoring_then_zero_whatever_said(lexicon):
    utts = [analyse_utterance("very interested", lexicon)]
    assert analyse_call(utts, CallOutcome.NO_ANSWER, 0, lexicon).intent.score == 0


def test_given_agent_speech_when_scoring_then_ignored(lexicon):
    agent = analyse_utterance("we offer a great discount", lexicon, speaker="agent")
    call = analyse_call([agent], CallOutcome.ANSWERED, 60, lexicon)
    assert call.concepts == frozenset()


def test_given_score_inputs_when_scoring_then_clamped_to_range(lexicon):
    utts = [analyse_utterance("投诉！骚扰！不需要！别打了！太差了", lexicon)]
    assert analyse_call(utts, CallOutcome.ANSWERED, 5, lexicon).intent.score == 0
    many = [analyse_utterance("合作 报价 感兴趣 优惠 回电 老板 不错 满意", lexicon)] * 3
    assert analyse_call(many, CallOutcome.ANSWERED, 3600, lexicon).intent.score <= 10


def test_given_custom_lexicon_when_parsing_then_used():
    lex = parse_lexicon({"concepts": {"warranty": {"terms": {"en": ["warranty"], "zh": ["保修"]}}}})
    assert concepts("保修多久", lex) == {"warranty"}


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"concepts": {"x": {"terms": {"fr": ["prix"]}}}}, "concept 'x'.terms: unknown language"),
        ({"concepts": {"x": {"terms": {"en": []}}}}, "concept 'x'.terms: at least one"),
        ({"concepts": {"x": {"terms": {"en": ["a"]}, "sentiment": 3}}}, "concept 'x'.sentiment"),
        ({"concepts": {"x": {"terms": {"en": ["a"]}, "when_negated": "y"}}}, "unknown concept 'y'"),
        ({"concepts": {"x": {"terms": {"en": ["a"]}, "colour": 1}}}, "unknown field(s) ['colour']"),
        ({"concepts": {}}, "lexicon.concepts"),
    ],
)
def test_given_bad_lexicon_when_parsing_then_clear_error(doc, fragment):
    with pytest.raises(LexiconError, match=None) as info:
        parse_lexicon(doc)
    assert fragment in str(info.value)
