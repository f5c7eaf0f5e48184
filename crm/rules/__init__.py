"""Declarative workflow rules: parse + validate documents into Rules, evaluate them on
pre-call, in-call and post-call contexts into auditable firings. Pure; storage and the HTTP
API live elsewhere and hand documents (dicts) to :func:`parse_rules`.

    rules = load_rules(concepts=lexicon.concept_names())        # default_rules.yaml
    ctx = in_call(now, call_id="c1", customer_id="u1", utterance=analyse_utterance(...))
    for firing in evaluate(rules, ctx): ...                     # RuleFiring(action, evidence)
"""

from __future__ import annotations

from datetime import datetime

from crm.analysis import CallAnalysis, CallOutcome, UtteranceAnalysis
from crm.rules.engine import evaluate, fired_rule_ids, match
from crm.rules.errors import RulesError, RuleSyntaxError
from crm.rules.model import (
    Action,
    CreateTask,
    Nurture,
    Priority,
    RecommendScript,
    Rule,
    RuleContext,
    RuleFiring,
    SetFollowUpPriority,
    SuggestScript,
    SupervisorTodo,
    Text,
    Trigger,
)
from crm.rules.parser import load_rules, parse_rule, parse_rules


def pre_call(now: datetime, *, call_id: str | None = None, customer_id: str | None = None,
             tags: frozenset[str] = frozenset()) -> RuleContext:
    return RuleContext(Trigger.PRE_CALL, now, call_id, customer_id, frozenset(tags))


def in_call(now: datetime, *, utterance: UtteranceAnalysis, call_id: str | None = None,
            customer_id: str | None = None, tags: frozenset[str] = frozenset(),
            already_fired: frozenset[str] = frozenset()) -> RuleContext:
    return RuleContext(Trigger.IN_CALL, now, call_id, customer_id, frozenset(tags),
                       utterance=utterance, already_fired=frozenset(already_fired))


def post_call(now: datetime, *, call: CallAnalysis, outcome: CallOutcome, talk_time_s: float,
              call_id: str | None = None, customer_id: str | None = None,
              tags: frozenset[str] = frozenset()) -> RuleContext:
    return RuleContext(Trigger.POST_CALL, now, call_id, customer_id, frozenset(tags),
                       call=call, outcome=outcome, talk_time_s=talk_time_s)


__all__ = [
    "Action", "CreateTask", "Nurture", "Priority", "RecommendScript", "Rule", "RuleContext",
    "RuleFiring", "RuleSyntaxError", "RulesError", "SetFollowUpPriority", "SuggestScript",
    "SupervisorTodo", "Text", "Trigger", "evaluate", "fired_rule_ids", "in_call", "load_rules",
    "match", "parse_rule", "parse_rules", "post_call", "pre_call",
]
