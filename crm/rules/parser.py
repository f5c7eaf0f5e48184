"""Parse and validate rule documents (YAML text, or dicts from JSON/the database) into Rules.

Document: ``{"version": 1, "rules": [rule, ...]}`` or a bare list of rules. A rule::

    id: quote-on-price                 # unique, [a-z0-9_-]
    name: Price asked -> send a quote  # optional, defaults to id
    trigger: in_call                   # pre_call | in_call | post_call
    when:                              # optional; several keys = all of them
      keyword: [price, cooperation]    # any of these lexicon concepts (or {any: [...]})
    actions:
      - create_task: {title: {en: Send a quote, zh: 24小时内发送报价}, due_in: 24h, priority: high}
    once_per_call: true                # optional; also priority (int), enabled, stop

Conditions: ``tags`` ({any, all, none} or a list = any), ``keyword``, ``sentiment`` ({below,
above} in [-1, 1]), ``mentions_date`` (bool), ``intent`` ({min, max} in [0, 10]), ``outcome``
(list), ``talk_time`` ({min_s, max_s}), and the combinators ``all``, ``any`` (lists) and ``not``.
Actions: ``recommend_script: {script}``, ``suggest_script: {script, message}``,
``create_task: {title, due_in | due: mentioned_date [, due_in fallback], priority, kind}``,
``set_priority: {priority}``, ``supervisor_todo: {note}``, ``nurture: {program}``.
Every error names the rule and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from crm.analysis import CallOutcome
from crm.rules import model as m
from crm.rules.errors import RuleSyntaxError
from crm.rules.validation import (
    ACTIONS_BY_TRIGGER,
    CONDITIONS_BY_TRIGGER,
    Ctx,
    check_keys,
    number,
    one_key,
    string,
    string_list,
)

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")


def _duration(value: Any, c: Ctx) -> timedelta:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        c.fail(f"expected a duration like '24h', '2d', '30m' or seconds, got {value!r}")
    d, h, mins = (int(g or 0) for g in match.groups())  # type: ignore[union-attr]
    return timedelta(days=d, hours=h, minutes=mins)


def _text(value: Any, c: Ctx) -> m.Text:
    if isinstance(value, str) and value.strip():
        return m.Text(value, value)
    if isinstance(value, dict) and set(value) <= {"en", "zh"} and value:
        en, zh = value.get("en") or value.get("zh"), value.get("zh") or value.get("en")
        return m.Text(string(en, c), string(zh, c))
    c.fail(f"expected a string or {{en: ..., zh: ...}}, got {value!r}")
    raise AssertionError  # unreachable


# ---- conditions ----------------------------------------------------------------------------


def _tags(raw: Any, c: Ctx) -> m.TagsCondition:
    if isinstance(raw, list):
        return m.TagsCondition(any=frozenset(string_list(raw, c)))
    check_keys(raw, c, allowed={"any", "all", "none"})
    fs = {k: frozenset(string_list(raw.get(k, []), c.at(k))) for k in ("any", "all", "none")}
    return m.TagsCondition(**fs)


def _keyword(raw: Any, c: Ctx) -> m.KeywordCondition:
    if isinstance(raw, dict):
        check_keys(raw, c, allowed={"any"}, required={"any"})
        c, raw = c.at("any"), raw["any"]
    names = string_list(raw, c, non_empty=True)
    if c.concepts is not None:
        unknown = sorted(set(names) - set(c.concepts))
        if unknown:
            c.fail(f"unknown concept(s) {unknown}; the lexicon has {sorted(c.concepts)}")
    return m.KeywordCondition(any=frozenset(names))


def _range(raw: Any, c: Ctx, keys: tuple[str, str], low: float, high: float) -> tuple[Any, Any]:
    check_keys(raw, c, allowed=set(keys))
    if not raw:
        c.fail(f"expected at least one of {list(keys)}")
    lo = number(raw[keys[0]], c.at(keys[0]), low, high) if keys[0] in raw else None
    hi = number(raw[keys[1]], c.at(keys[1]), low, high) if keys[1] in raw else None
    return lo, hi


def _sentiment(raw: Any, c: Ctx) -> m.SentimentCondition:
    below, above = _range(raw, c, ("below", "above"), -1.0, 1.0)
    return m.SentimentCondition(below=below, above=above)


def _intent(raw: Any, c: Ctx) -> m.IntentCondition:
    lo, hi = _range(raw, c, ("min", "max"), 0.0, 10.0)
    return m.IntentCondition(min=lo, max=hi)


def _talk_time(raw: Any, c: Ctx) -> m.TalkTimeCondition:
    lo, hi = _range(raw, c, ("min_s", "max_s"), 0.0, 86_400.0)
    return m.TalkTimeCondition(min_s=lo, max_s=hi)


def _outcome(raw: Any, c: Ctx) -> m.OutcomeCondition:
    names = string_list(raw, c, non_empty=True)
    valid = {o.value for o in CallOutcome}
    bad = sorted(set(names) - valid)
    if bad:
        c.fail(f"unknown outcome(s) {bad}; expected some of {sorted(valid)}")
    return m.OutcomeCondition(any=frozenset(CallOutcome(n) for n in names))


def _mentions_date(raw: Any, c: Ctx) -> m.MentionsDateCondition:
    if not isinstance(raw, bool):
        c.fail(f"expected true or false, got {raw!r}")
    return m.MentionsDateCondition(expected=raw)


def _combinator(kind: str) -> Callable[[Any, Ctx], m.Condition]:
    def parse(raw: Any, c: Ctx) -> m.Condition:
        if kind == "not":
            return m.Not(condition(raw, c))
        if not isinstance(raw, list) or not raw:
            c.fail("expected a non-empty list of conditions")
        parts = tuple(condition(item, c.at(f"[{i}]")) for i, item in enumerate(raw))
        return m.AllOf(parts) if kind == "all" else m.AnyOf(parts)

    return parse


_CONDITIONS: dict[str, Callable[[Any, Ctx], m.Condition]] = {
    "tags": _tags, "keyword": _keyword, "sentiment": _sentiment, "intent": _intent,
    "outcome": _outcome, "talk_time": _talk_time, "mentions_date": _mentions_date,
    "all": _combinator("all"), "any": _combinator("any"), "not": _combinator("not"),
}


def condition(raw: Any, c: Ctx) -> m.Condition:
    if not isinstance(raw, dict) or not raw:
        c.fail(f"expected a condition mapping such as {{keyword: [price]}}, got {raw!r}")
    parts = []
    for key, value in raw.items():
        if key not in _CONDITIONS:
            c.fail(f"unknown condition {key!r}; expected one of {sorted(_CONDITIONS)}")
        if key not in CONDITIONS_BY_TRIGGER[c.trigger] | {"all", "any", "not"}:
            c.fail(f"condition {key!r} is not available for trigger {c.trigger.value}")
        parts.append(_CONDITIONS[key](value, c.at(key)))
    return parts[0] if len(parts) == 1 else m.AllOf(tuple(parts))


# ---- actions -------------------------------------------------------------------------------


def _priority(raw: Any, c: Ctx) -> m.Priority:
    try:
        return m.Priority(raw)
    except ValueError:
        c.fail(f"expected one of {[p.value for p in m.Priority]}, got {raw!r}")
        raise AssertionError from None


def _create_task(raw: Any, c: Ctx) -> m.CreateTask:
    check_keys(raw, c, allowed={"title", "due_in", "due", "priority", "kind"}, required={"title"})
    if "due" in raw and raw["due"] != "mentioned_date":
        c.at("due").fail(f"expected 'mentioned_date', got {raw['due']!r}")
    if "due" not in raw and "due_in" not in raw:
        c.fail("expected 'due_in' (e.g. 24h) or 'due: mentioned_date'")
    return m.CreateTask(
        title=_text(raw["title"], c.at("title")),
        due_in=_duration(raw["due_in"], c.at("due_in")) if "due_in" in raw else None,
        due_from_mention="due" in raw,
        priority=_priority(raw.get("priority", "normal"), c.at("priority")),
        kind=string(raw.get("kind", "task"), c.at("kind")),
    )


def _fields(raw: Any, c: Ctx, names: tuple[str, ...]) -> dict[str, Any]:
    check_keys(raw, c, allowed=set(names), required=set(names))
    return raw  # type: ignore[no-any-return]


_ACTIONS: dict[str, Callable[[Any, Ctx], m.Action]] = {
    "recommend_script": lambda r, c: m.RecommendScript(
        string(_fields(r, c, ("script",))["script"], c.at("script"))),
    "suggest_script": lambda r, c: m.SuggestScript(
        string(_fields(r, c, ("script", "message"))["script"], c.at("script")),
        _text(r["message"], c.at("message"))),
    "create_task": _create_task,
    "set_priority": lambda r, c: m.SetFollowUpPriority(
        _priority(_fields(r, c, ("priority",))["priority"], c.at("priority"))),
    "supervisor_todo": lambda r, c: m.SupervisorTodo(
        _text(_fields(r, c, ("note",))["note"], c.at("note"))),
    "nurture": lambda r, c: m.Nurture(
        string(_fields(r, c, ("program",))["program"], c.at("program"))),
}


def action(raw: Any, c: Ctx) -> m.Action:
    key, value = one_key(raw, c, "an action such as {create_task: {...}}")
    if key not in _ACTIONS:
        c.fail(f"unknown action {key!r}; expected one of {sorted(_ACTIONS)}")
    if key not in ACTIONS_BY_TRIGGER[c.trigger]:
        c.fail(f"action {key!r} is not available for trigger {c.trigger.value}")
    return _ACTIONS[key](value, c.at(key))


# ---- rules ---------------------------------------------------------------------------------

_RULE_KEYS = {"id", "name", "trigger", "when", "actions", "priority", "enabled", "once_per_call",
              "stop", "description"}


def parse_rule(raw: Any, index: int = 0, concepts: Collection[str] | None = None) -> m.Rule:
    rule_id = raw.get("id") if isinstance(raw, dict) else None
    c = Ctx(rule=str(rule_id) if rule_id else f"#{index}", path="", concepts=concepts)
    if not isinstance(raw, dict):
        c.fail(f"expected a rule mapping, got {type(raw).__name__}")
    check_keys(raw, c, allowed=_RULE_KEYS, required={"id", "trigger", "actions"})
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        c.at("id").fail(f"expected lowercase letters, digits, '-', '_' or '.', got {rule_id!r}")
    try:
        trigger = m.Trigger(raw["trigger"])
    except ValueError:
        valid = [t.value for t in m.Trigger]
        c.at("trigger").fail(f"expected one of {valid}, got {raw['trigger']!r}")
        raise AssertionError from None
    c = Ctx(rule=rule_id, path="", concepts=concepts, trigger=trigger)
    acts = raw["actions"]
    if not isinstance(acts, list) or not acts:
        c.at("actions").fail("expected a non-empty list of actions")
    defaults = (("enabled", True), ("once_per_call", False), ("stop", False))
    flags = {k: raw.get(k, d) for k, d in defaults}
    for k, v in flags.items():
        if not isinstance(v, bool):
            c.at(k).fail(f"expected true or false, got {v!r}")
    prio = raw.get("priority", 100)
    if not isinstance(prio, int) or isinstance(prio, bool):
        c.at("priority").fail(f"expected an integer, got {prio!r}")
    return m.Rule(
        id=rule_id,
        name=string(raw.get("name", rule_id), c.at("name")),
        trigger=trigger,
        when=condition(raw["when"], c.at("when")) if raw.get("when") is not None else None,
        actions=tuple(action(a, c.at(f"actions[{i}]")) for i, a in enumerate(acts)),
        priority=prio,
        **flags,
    )


def parse_rules(doc: Any, concepts: Collection[str] | None = None) -> tuple[m.Rule, ...]:
    """Validate a whole document; ``concepts`` (the lexicon's) makes unknown keywords errors."""
    items = doc.get("rules") if isinstance(doc, Mapping) else doc
    if not isinstance(items, list):
        raise RuleSyntaxError("<document>", "rules", "expected a list of rules")
    rules = tuple(parse_rule(raw, i, concepts) for i, raw in enumerate(items))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleSyntaxError(rule.id, "id", "duplicate rule id")
        seen.add(rule.id)
    return rules


def load_rules(path: str | Path | None = None, concepts: Collection[str] | None = None
               ) -> tuple[m.Rule, ...]:
    """Rules from a YAML/JSON file, or the packaged ``default_rules.yaml`` when ``path`` is None."""
    if path is None:
        text = resources.files("crm.rules").joinpath("default_rules.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleSyntaxError("<document>", "", f"not valid YAML: {exc}") from None
    return parse_rules(doc, concepts)
