"""Validation helpers shared by the rule parser (internal)."""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from crm.rules.errors import RuleSyntaxError
from crm.rules.model import Trigger

CONDITIONS_BY_TRIGGER: dict[Trigger, set[str]] = {
    Trigger.PRE_CALL: {"tags"},
    Trigger.IN_CALL: {"tags", "keyword", "sentiment", "mentions_date"},
    Trigger.POST_CALL: {"tags", "keyword", "sentiment", "intent", "outcome", "talk_time"},
}
ACTIONS_BY_TRIGGER: dict[Trigger, set[str]] = {
    Trigger.PRE_CALL: {"recommend_script"},
    Trigger.IN_CALL: {"suggest_script", "create_task"},
    Trigger.POST_CALL: {"create_task", "set_priority", "supervisor_todo", "nurture"},
}


@dataclass(frozen=True, slots=True)
class Ctx:
    """Where we are in the document, for error messages."""

    rule: str
    path: str
    concepts: Collection[str] | None = None
    trigger: Trigger = Trigger.IN_CALL

    def at(self, key: str) -> Ctx:
        sep = "" if not self.path or key.startswith("[") else "."
        return replace(self, path=f"{self.path}{sep}{key}")

    def fail(self, message: str) -> NoReturn:
        raise RuleSyntaxError(self.rule, self.path or "<rule>", message)


def check_keys(
    raw: Any, c: Ctx, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
) -> None:
    if not isinstance(raw, dict):
        c.fail(f"expected a mapping with keys {sorted(allowed)}, got {raw!r}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        c.fail(f"unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(raw))
    if missing:
        c.fail(f"missing required key(s) {missing}")


def one_key(raw: Any, c: Ctx, what: str) -> tuple[str, Any]:
    if not isinstance(raw, dict) or len(raw) != 1:
        c.fail(f"expected {what} (a mapping with exactly one key), got {raw!r}")
    return next(iter(raw.items()))


def string(value: Any, c: Ctx) -> str:
    if not isinstance(value, str) or not value.strip():
        c.fail(f"expected a non-empty string, got {value!r}")
    return value.strip()


def string_list(value: Any, c: Ctx, non_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or (non_empty and not value):
        c.fail(f"expected a {'non-empty ' if non_empty else ''}list of strings, got {value!r}")
    return [string(v, c.at(f"[{i}]")) for i, v in enumerate(value)]


def number(value: Any, c: Ctx, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        c.fail(f"expected a number in [{low}, {high}], got {value!r}")
    return float(value)
