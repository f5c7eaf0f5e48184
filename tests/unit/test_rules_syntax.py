"""Bad rule documents are rejected with an error naming the rule and the field."""

from __future__ import annotations

import pytest

from crm.rules import RuleSyntaxError, load_rules, parse_rules


def rule(**overrides):
    base = {"id": "r1", "trigger": "in_call", "when": {"keyword": ["price"]},
            "actions": [{"create_task": {"title": "Quote", "due_in": "24h"}}]}
    base.update(overrides)
    return {"rules": [base]}


@pytest.mark.parametrize(
    ("doc", "field", "fragment"),
    [
        (rule(trigger="during_call"), "trigger", "expected one of"),
        (rule(id="Bad Id!"), "id", "expected lowercase"),
        (rule(when={"keyword": []}), "when.keyword", "non-empty list"),
        (rule(when={"keyword": ["prize"]}), "when.keyword", "unknown concept(s) ['prize']"),
        (rule(when={"sentiment": {"below": -3}}), "when.sentiment.below", "[-1.0, 1.0]"),
        (rule(when={"intent": {"min": 7}}), "when",
         "'intent' is not available for trigger in_call"),
        (rule(when={"colour": "red"}), "when", "unknown condition 'colour'"),
        (rule(actions=[]), "actions", "non-empty list"),
        (rule(actions=[{"create_task": {"title": "Q", "due_in": "tomorrow"}}]),
         "actions[0].create_task.due_in", "duration like '24h'"),
        (rule(actions=[{"create_task": {"title": "Q"}}]), "actions[0].create_task", "due_in"),
        (rule(actions=[{"create_task": {"title": "Q", "due_in": "1h", "priority": "asap"}}]),
         "actions[0].create_task.priority", "expected one of"),
        (rule(actions=[{"recommend_script": {"script": "x"}}]), "actions[0]",
         "'recommend_script' is not available for trigger in_call"),
        (rule(actions=[{"send_fax": {}}]), "actions[0]", "unknown action 'send_fax'"),
        (rule(once_per_call="yes"), "once_per_call", "true or false"),
        (rule(colour="red"), "<rule>", "unknown key(s) ['colour']"),
    ],
)
def test_given_bad_rule_when_parsing_then_error_names_rule_and_field(doc, field, fragment):
    with pytest.raises(RuleSyntaxError) as info:
        parse_rules(doc, concepts={"price", "too_expensive"})
    assert info.value.rule == doc["rules"][0].get("id", "#0") or info.value.rule == "#0"
    assert info.value.field == field
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"rule {info.value.rule!r}: field {field!r}")


def test_given_missing_id_when_parsing_then_rule_named_by_position():
    doc = {"rules": [{"trigger": "pre_call", "actions": [{"recommend_script": {"script": "x"}}]}]}
    with pytest.raises(RuleSyntaxError, match=r"rule '#0'.*missing required key\(s\) \['id'\]"):
        parse_rules(doc)


def test_given_duplicate_ids_when_parsing_then_rejected():
    one = rule()["rules"][0]
    with pytest.raises(RuleSyntaxError, match="duplicate rule id"):
        parse_rules([one, dict(one)])


def test_given_invalid_yaml_file_when_loading_then_error(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [ {id: a, trigger: pre_call", encoding="utf-8")
    with pytest.raises(RuleSyntaxError, match="not valid YAML"):
        load_rules(path)


def test_given_yaml_file_when_loading_then_rules_parsed(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - id: vip\n    trigger: pre_call\n    when: {tags: {all: [vip]}}\n"
        "    actions:\n      - recommend_script: {script: vip}\n", encoding="utf-8")
    [only] = load_rules(path)
    assert only.id == "vip" and only.when.all == frozenset({"vip"})
