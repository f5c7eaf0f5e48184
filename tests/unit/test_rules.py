"""Workflow rules engine: each trigger with the default rules, and rule-document validation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.analysis import CallOutcome, analyse_call, analyse_utterance, load_lexicon
from crm.rules import (
    CreateTask,
    Nurture,
    Priority,
    RecommendScript,
    SetFollowUpPriority,
    SuggestScript,
    SupervisorTodo,
    evaluate,
    fired_rule_ids,
    in_call,
    load_rules,
    parse_rules,
    post_call,
    pre_call,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 11, 0, tzinfo=TZ)  # a Thursday


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


@pytest.fixture(scope="module")
def rules(lexicon):
    return load_rules(concepts=lexicon.concept_names())


def said(text, lexicon):
    return analyse_utterance(text, lexicon, NOW, TZ)


def test_given_vip_tag_when_pre_call_then_vip_script_only(rules):
    firings = evaluate(rules, pre_call(NOW, customer_id="u1", tags=frozenset({"vip"})))
    assert [f.action for f in firings] == [RecommendScript("vip_account_review")]
    assert firings[0].evidence == ("tags: vip",)


def test_given_no_tags_when_pre_call_then_default_script(rules):
    firings = evaluate(rules, pre_call(NOW))
    assert [f.action for f in firings] == [RecommendScript("standard_opener")]


def test_given_price_keyword_when_in_call_then_quote_task_due_in_24h(rules, lexicon):
    ctx = in_call(NOW, call_id="c1", customer_id="u1", utterance=said("价格是多少？", lexicon))
    [firing] = evaluate(rules, ctx)
    assert isinstance(firing.action, CreateTask) and firing.action.kind == "quote"
    assert firing.action.title.zh == "24小时内发送报价"
    assert firing.due_at == NOW + timedelta(hours=24)
    assert firing.call_id == "c1" and "价格是多少？" in firing.evidence[0]


def test_given_rule_already_fired_when_in_call_then_once_per_call(rules, lexicon):
    utt = said("what is the price?", lexicon)
    first = evaluate(rules, in_call(NOW, utterance=utt))
    again = evaluate(rules, in_call(NOW, utterance=utt, already_fired=fired_rule_ids(first)))
    assert first and not again


def test_given_too_expensive_when_in_call_then_discount_script_suggested(rules, lexicon):
    firings = evaluate(rules, in_call(NOW, utterance=said("太贵了", lexicon)))
    assert [type(f.action) for f in firings] == [SuggestScript]
    assert firings[0].action.script == "discount_offer"


def test_given_not_expensive_when_in_call_then_no_discount_script(rules, lexicon):
    firings = evaluate(rules, in_call(NOW, utterance=said("It's not expensive", lexicon)))
    assert all(not isinstance(f.action, SuggestScript) for f in firings)


def test_given_call_next_week_when_in_call_then_dated_callback(rules, lexicon):
    firings = evaluate(rules, in_call(NOW, utterance=said("下周再联系吧", lexicon)))
    [callback] = [f for f in firings if f.rule_id == "callback-requested"]
    assert callback.due_at == datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
    assert any("下周" in e for e in callback.evidence)


def test_given_call_me_next_tuesday_at_3_when_in_call_then_callback_at_that_time(rules, lexicon):
    utterance = said("Call me back next Tuesday at 3", lexicon)
    firings = evaluate(rules, in_call(NOW, utterance=utterance))
    [callback] = [f for f in firings if f.rule_id == "callback-requested"]
    assert callback.due_at == datetime(2026, 12, 1, 15, 0, tzinfo=TZ)


def post(texts, talk, lexicon, outcome=CallOutcome.ANSWERED):
    call = analyse_call([said(t, lexicon) for t in texts], outcome, talk, lexicon)
    return post_call(NOW, call=call, outcome=outcome, talk_time_s=talk, call_id="c9")


def test_given_high_intent_when_post_call_then_urgent_and_supervisor_todo(rules, lexicon):
    firings = evaluate(rules, post(["我们对合作很感兴趣", "报价发我，可以"], 300, lexicon))
    actions = [f.action for f in firings]
    assert SetFollowUpPriority(Priority.URGENT) in actions
    assert any(isinstance(a, SupervisorTodo) for a in actions)
    assert firings[0].evidence[0].startswith("intent score")


def test_given_low_intent_when_post_call_then_nurturing(rules, lexicon):
    firings = evaluate(rules, post(["not interested"], 20, lexicon))
    assert [f.action for f in firings] == [
        SetFollowUpPriority(Priority.LOW), Nurture("monthly_newsletter")]


def test_given_no_answer_when_post_call_then_no_intent_rules(rules, lexicon):
    assert evaluate(rules, post([], 0, lexicon, CallOutcome.NO_ANSWER)) == ()


def test_given_disabled_rule_when_evaluating_then_skipped():
    doc = {"rules": [{"id": "r", "trigger": "pre_call", "enabled": False,
                      "actions": [{"recommend_script": {"script": "x"}}]}]}
    assert evaluate(parse_rules(doc), pre_call(NOW)) == ()


def test_given_json_document_when_parsing_then_same_rules_as_yaml(rules):
    from importlib import resources

    import yaml
    text = resources.files("crm.rules").joinpath("default_rules.yaml").read_text("utf-8")
    as_json = json.loads(json.dumps(yaml.safe_load(text)))
    assert parse_rules(as_json) == rules


def test_given_nested_conditions_when_evaluating_then_all_any_not(lexicon):
    doc = {"rules": [{"id": "combo", "trigger": "in_call", "when": {"all": [
        {"any": [{"keyword": ["price"]}, {"keyword": ["discount"]}]},
        {"not": {"tags": {"any": ["blocked"]}}},
    ]}, "actions": [{"suggest_script": {"script": "s", "message": "m"}}]}]}
    rules = parse_rules(doc)
    utt = said("any discount?", lexicon)
    assert evaluate(rules, in_call(NOW, utterance=utt))
    assert not evaluate(rules, in_call(NOW, utterance=utt, tags=frozenset({"blocked"})))
