"""Evaluate rules against a trigger context: pure, deterministic, no I/O.

``evaluate(rules, ctx)`` returns one :class:`RuleFiring` per action of each matching rule, in
rule priority order (then id), each carrying the evidence that made the rule match — the
keyword and the sentence it was heard in, the sentiment or intent score, the tags — so that
the caller can audit every firing and act on it (create the task, push the script, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from crm.analysis import earliest_future
from crm.rules import model as m

Evidence = tuple[str, ...]


def _tags(cond: m.TagsCondition, ctx: m.RuleContext) -> Evidence | None:
    tags = ctx.tags
    if cond.any and not cond.any & tags:
        return None
    if not cond.all <= tags or cond.none & tags:
        return None
    shown = sorted((cond.any | cond.all) & tags)
    if shown:
        return (f"tags: {', '.join(shown)}",)
    return ("tags: none of " + ", ".join(sorted(cond.none)),)


def _keyword(cond: m.KeywordCondition, ctx: m.RuleContext) -> Evidence | None:
    if ctx.utterance is not None:
        hits = [h for h in ctx.utterance.hits if h.concept in cond.any]
        if hits:
            words = ", ".join(f"{h.concept} ({h.term!r})" for h in hits)
            return (f"keyword {words} in {ctx.utterance.text!r}",)
        return None
    found = sorted(cond.any & ctx.call.concepts) if ctx.call else []
    return (f"keywords said in the call: {', '.join(found)}",) if found else None


def _within(value: float, low: float | None, high: float | None, strict_high: bool) -> bool:
    if low is not None and value < low:
        return False
    if high is not None and (value >= high if strict_high else value > high):
        return False
    return True


def _sentiment(cond: m.SentimentCondition, ctx: m.RuleContext) -> Evidence | None:
    if ctx.utterance is not None:
        score, where = ctx.utterance.sentiment.score, f"in {ctx.utterance.text!r}"
    elif ctx.call is not None:
        score, where = ctx.call.sentiment.score, "over the call"
    else:
        return None
    above_ok = cond.above is None or score > cond.above
    below_ok = cond.below is None or score < cond.below
    return (f"sentiment {score:+.2f} {where}",) if above_ok and below_ok else None


def _intent(cond: m.IntentCondition, ctx: m.RuleContext) -> Evidence | None:
    if ctx.call is None or not _within(ctx.call.intent.score, cond.min, cond.max, False):
        return None
    factors = "; ".join(f"{f.name} {f.points:+g} ({f.detail})" for f in ctx.call.intent.factors)
    return (f"intent score {ctx.call.intent.score:g}/10: {factors}",)


def _outcome(cond: m.OutcomeCondition, ctx: m.RuleContext) -> Evidence | None:
    return (f"outcome {ctx.outcome.value}",) if ctx.outcome in cond.any and ctx.outcome else None


def _talk_time(cond: m.TalkTimeCondition, ctx: m.RuleContext) -> Evidence | None:
    t = ctx.talk_time_s
    if t is None or not _within(t, cond.min_s, cond.max_s, False):
        return None
    return (f"talk time {t:.0f} s",)


def _mentions_date(cond: m.MentionsDateCondition, ctx: m.RuleContext) -> Evidence | None:
    dates = ctx.utterance.dates if ctx.utterance else ()
    if bool(dates) != cond.expected:
        return None
    return tuple(f"date {d.text!r} -> {d.when.isoformat()}" for d in dates) or ("no date said",)


def match(cond: m.Condition | None, ctx: m.RuleContext) -> Evidence | None:
    """Evidence if ``cond`` holds in ``ctx``, else None. ``None`` condition always holds."""
    if cond is None:
        return ()
    if isinstance(cond, m.AllOf):
        found: list[str] = []
        for part in cond.conditions:
            ev = match(part, ctx)
            if ev is None:
                return None
            found += ev
        return tuple(found)
    if isinstance(cond, m.AnyOf):
        results = [ev for part in cond.conditions if (ev := match(part, ctx)) is not None]
        return tuple(e for ev in results for e in ev) if results else None
    if isinstance(cond, m.Not):
        if match(cond.condition, ctx) is not None:
            return None
        return ("not: " + type(cond.condition).__name__,)
    return _LEAVES[type(cond)](cond, ctx)  # type: ignore[operator]


_LEAVES = {
    m.TagsCondition: _tags, m.KeywordCondition: _keyword, m.SentimentCondition: _sentiment,
    m.IntentCondition: _intent, m.OutcomeCondition: _outcome, m.TalkTimeCondition: _talk_time,
    m.MentionsDateCondition: _mentions_date,
}


def _due(action: m.Action, ctx: m.RuleContext) -> datetime | None:
    if not isinstance(action, m.CreateTask):
        return None
    if action.due_from_mention and ctx.utterance is not None:
        mention = earliest_future(ctx.utterance.dates, ctx.now)
        if mention is not None:
            return mention.when
    return ctx.now + action.due_in if action.due_in is not None else None


def _ordered(rules: Iterable[m.Rule], trigger: m.Trigger) -> list[m.Rule]:
    return sorted((r for r in rules if r.enabled and r.trigger is trigger),
                  key=lambda r: (r.priority, r.id))


def evaluate(rules: Sequence[m.Rule], ctx: m.RuleContext) -> tuple[m.RuleFiring, ...]:
    """All actions that the rules for ``ctx.trigger`` ask for, with their evidence."""
    firings: list[m.RuleFiring] = []
    for rule in _ordered(rules, ctx.trigger):
        if rule.once_per_call and rule.id in ctx.already_fired:
            continue
        evidence = match(rule.when, ctx)
        if evidence is None:
            continue
        firings += [
            m.RuleFiring(rule.id, rule.name, rule.trigger, ctx.call_id, ctx.customer_id, action,
                         evidence, ctx.now, _due(action, ctx))
            for action in rule.actions
        ]
        if rule.stop:
            break
    return tuple(firings)


def fired_rule_ids(firings: Iterable[m.RuleFiring]) -> frozenset[str]:
    """Ids to add to ``RuleContext.already_fired`` for the rest of the call."""
    return frozenset(f.rule_id for f in firings)
