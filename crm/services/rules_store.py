"""Workflow rules stored in the database: CRUD for the API, YAML import (CLI and start-up),
and the parsed, cached rule set the live path evaluates.

Every write is validated by :func:`crm.rules.parse_rule` against the lexicon's concepts; a
:class:`crm.rules.RuleSyntaxError` becomes an :class:`InvalidInputError` naming the rule, the
field and (for YAML) the line, so the API answers 400 with a clear message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Task
from crm.db.models_speech import CallAnalysisRow, RuleFiringRow, WorkflowRuleRow
from crm.domain.access import Principal, may_change_owned
from crm.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.rules import Rule, RuleSyntaxError, parse_rule, parse_rules
from crm.services.common import Page, audit, check_page, paginate, transaction

log = logging.getLogger(__name__)


def default_rules_text() -> str:
    return resources.files("crm.rules").joinpath("default_rules.yaml").read_text("utf-8")


def _rule_lines(text: str) -> dict[int, int]:
    """Line (1-based) where each rule of a YAML document starts, by index."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    items = root
    if isinstance(root, yaml.MappingNode):
        items = next((v for k, v in root.value if getattr(k, "value", None) == "rules"), None)
    if not isinstance(items, yaml.SequenceNode):
        return {}
    return {i: node.start_mark.line + 1 for i, node in enumerate(items.value)}


def _invalid(exc: RuleSyntaxError, prefix: str = "", line: int | None = None) -> InvalidInputError:
    field = f"{prefix}{exc.field}" if exc.field and exc.field != "<rule>" else prefix.rstrip(".")
    extra: dict[str, Any] = {"rule": exc.rule, "rule_field": exc.field}
    if line is not None:
        extra["line"] = line
    where = f" (line {line})" if line is not None else ""
    return InvalidInputError(field or "rule", f"{exc}{where}", **extra)


def parse_yaml_document(text: str, concepts: Collection[str] | None) -> tuple[Any, tuple[Rule,
                                                                                        ...]]:
    """YAML (or JSON) text → (document, rules). Errors name the line and the field."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInputError("body", f"not valid YAML: {problem}"
                                + (f" (line {line})" if line else ""), line=line) from None
    except RecursionError:
        raise InvalidInputError("body", "the body is nested too deeply") from None
    try:
        return doc, parse_rules(doc, concepts)
    except RuleSyntaxError as exc:
        index = _index_of(doc, exc.rule)
        line = _rule_lines(text).get(index) if index is not None else None
        prefix = f"rules[{index}]." if index is not None else ""
        raise _invalid(exc, prefix, line) from None


def _index_of(doc: Any, rule: str) -> int | None:
    items = doc.get("rules") if isinstance(doc, Mapping) else doc
    if not isinstance(items, list):
        return None
    if rule.startswith("#") and rule[1:].isdigit():
        return int(rule[1:])
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("id") == rule:
            return i
    return None


def _row(rule: Rule, definition: Mapping[str, Any], actor: uuid.UUID | None) -> WorkflowRuleRow:
    """A new rule, owned by ``actor`` (None: admin-owned, e.g. the packaged defaults)."""
    return WorkflowRuleRow(id=rule.id, trigger=rule.trigger.value, priority=rule.priority,
                           enabled=rule.enabled, definition=dict(definition), updated_by=actor,
                           owner_id=actor)


class RulesStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 concepts: Collection[str] | None) -> None:
        self._sessions = sessions
        self._clock = clock
        self.concepts = frozenset(concepts) if concepts is not None else None
        self._cache: tuple[Rule, ...] | None = None
        self._seed_checked = False

    # ---- the live path -------------------------------------------------------------------
    async def rules(self) -> tuple[Rule, ...]:
        """The enabled and disabled rules, parsed (cached until the next write). The first
        load of an empty table seeds the packaged default rules."""
        if self._cache is None:
            if not self._seed_checked:
                await self.seed_defaults_if_empty()
            async with self._sessions() as s:
                rows = list(await s.scalars(sa.select(WorkflowRuleRow)))
            parsed = []
            for r in rows:
                try:
                    parsed.append(parse_rule(r.definition, 0, self.concepts))
                except RuleSyntaxError as exc:  # e.g. a concept removed from the lexicon
                    log.error("rules: stored rule %s no longer valid, skipped: %s", r.id, exc)
            self._cache = tuple(parsed)
        return self._cache

    @property
    def ready(self) -> bool:
        """True once the table was checked (seeded at start-up) or rules were loaded."""
        return self._seed_checked or self._cache is not None

    def invalidate(self) -> None:
        self._cache = None

    # ---- YAML ----------------------------------------------------------------------------
    async def seed_defaults_if_empty(self) -> int:
        """Load ``crm/rules/default_rules.yaml`` when the table is empty (start-up)."""
        self._seed_checked = True
        async with self._sessions() as s:
            count = await s.scalar(sa.select(sa.func.count()).select_from(WorkflowRuleRow))
        if count:
            return 0
        loaded = await self.import_yaml(default_rules_text(), replace=False, actor_id=None)
        log.info("rules: the table was empty; loaded %d default rules", len(loaded))
        return len(loaded)

    async def import_yaml(self, text: str, *, replace: bool, actor_id: uuid.UUID | None,
                          who: Principal | None = None) -> list[WorkflowRuleRow]:
        """Validate a whole document, then upsert its rules in one transaction (``replace``:
        delete the rules the document does not name). With ``who`` (an API caller), a rule of
        the document that exists must be theirs to change (all or nothing), and ``replace``
        deletes only rules they may change (a manager's own)."""
        # YAML is parsed in pure Python (0.5 MB: seconds): off the event loop
        doc, rules = await asyncio.to_thread(parse_yaml_document, text, self.concepts)
        items: list[Any] = doc["rules"] if isinstance(doc, Mapping) else doc  # parse_rules checked
        rows: list[WorkflowRuleRow] = []
        async with transaction(self._sessions) as s:
            if replace:
                dropped = sa.delete(WorkflowRuleRow).where(
                    col(WorkflowRuleRow.id).not_in([r.id for r in rules]))
                if who is not None and not who.is_admin:
                    dropped = dropped.where(col(WorkflowRuleRow.owner_id) == who.user_id)
                await s.execute(dropped)
            for rule, raw in zip(rules, items, strict=True):
                row = await s.get(WorkflowRuleRow, rule.id)
                if row is not None and who is not None:
                    may_change_owned(who, row.owner_id, "rule")
                if row is None:
                    row = _row(rule, raw, actor_id)
                    s.add(row)
                else:
                    self._assign(row, rule, raw, actor_id)
                rows.append(row)
            audit(s, actor_id, "rules.imported", "workflow_rules", "*",
                  {"rules": [r.id for r in rules], "replace": replace})
        self.invalidate()
        return rows

    # ---- CRUD ----------------------------------------------------------------------------
    def validate(self, raw: Any, field_prefix: str = "") -> Rule:
        if not isinstance(raw, Mapping):
            raise InvalidInputError("body", "expected a rule object")
        try:
            return parse_rule(dict(raw), 0, self.concepts)
        except RuleSyntaxError as exc:
            raise _invalid(exc, field_prefix) from None

    async def list(self, trigger: str | None = None) -> list[WorkflowRuleRow]:
        stmt = sa.select(WorkflowRuleRow).order_by(
            col(WorkflowRuleRow.trigger), col(WorkflowRuleRow.priority), col(WorkflowRuleRow.id))
        if trigger is not None:
            stmt = stmt.where(col(WorkflowRuleRow.trigger) == trigger)
        async with self._sessions() as s:
            return list(await s.scalars(stmt))

    async def get(self, rule_id: str) -> WorkflowRuleRow:
        async with self._sessions() as s:
            row = await s.get(WorkflowRuleRow, rule_id)
        if row is None:
            raise NotFoundError("rule", rule_id)
        return row

    async def create(self, raw: Any, *, actor_id: uuid.UUID | None) -> WorkflowRuleRow:
        rule = self.validate(raw)
        async with transaction(self._sessions) as s:
            if await s.get(WorkflowRuleRow, rule.id) is not None:
                raise AlreadyExistsError("rule", "id", rule.id)
            row = _row(rule, raw, actor_id)
            s.add(row)
            audit(s, actor_id, "rule.created", "workflow_rule", rule.id, {"definition": raw})
        self.invalidate()
        return row

    async def update(self, rule_id: str, raw: Any, *, actor_id: uuid.UUID | None
                     ) -> WorkflowRuleRow:
        if isinstance(raw, Mapping) and "id" not in raw:
            raw = {**raw, "id": rule_id}
        rule = self.validate(raw)
        if rule.id != rule_id:
            raise InvalidInputError("id", "the rule id in the body differs from the path")
        async with transaction(self._sessions) as s:
            row = await s.get(WorkflowRuleRow, rule_id)
            if row is None:
                raise NotFoundError("rule", rule_id)
            self._assign(row, rule, raw, actor_id)
            audit(s, actor_id, "rule.updated", "workflow_rule", rule.id, {"definition": raw})
        self.invalidate()
        return row

    async def delete(self, rule_id: str, *, actor_id: uuid.UUID | None) -> None:
        async with transaction(self._sessions) as s:
            row = await s.get(WorkflowRuleRow, rule_id)
            if row is None:
                raise NotFoundError("rule", rule_id)
            await s.delete(row)
            audit(s, actor_id, "rule.deleted", "workflow_rule", rule_id, {})
        self.invalidate()

    def _assign(self, row: WorkflowRuleRow, rule: Rule, raw: Mapping[str, Any],
                actor_id: uuid.UUID | None) -> None:
        row.trigger, row.priority, row.enabled = rule.trigger.value, rule.priority, rule.enabled
        row.definition = dict(raw)
        row.updated_at = self._clock.now()
        row.updated_by = actor_id


class RuleAudit:
    """Read side of the rule firings: the audit list, a call's analysis, the supervisor's
    to-do list (tasks made by ``supervisor_todo`` firings)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def firings(self, *, call_id: str | None = None, rule_id: str | None = None,
                      limit: int = 50, offset: int = 0) -> Page[RuleFiringRow]:
        stmt = sa.select(RuleFiringRow)
        if call_id is not None:
            stmt = stmt.where(col(RuleFiringRow.call_id) == call_id)
        if rule_id is not None:
            stmt = stmt.where(col(RuleFiringRow.rule_id) == rule_id)
        stmt = stmt.order_by(col(RuleFiringRow.fired_at).desc(), col(RuleFiringRow.id).desc())
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)

    async def analysis(self, call_id: str) -> CallAnalysisRow:
        async with self._sessions() as s:
            row = await s.get(CallAnalysisRow, call_id)
        if row is None:
            raise NotFoundError("call analysis", call_id)
        return row

    async def supervisor_todo(self, *, owner_id: uuid.UUID | None, include_unowned: bool,
                              status: str | None = "open", limit: int = 50, offset: int = 0
                              ) -> Page[tuple[Task, RuleFiringRow]]:
        """Tasks of ``supervisor_todo`` firings: ``owner_id``'s (a manager), plus the unowned
        ones (no campaign manager) when ``include_unowned``; ``owner_id`` None: everyone's."""
        stmt = sa.select(Task, RuleFiringRow).join(
            RuleFiringRow, col(RuleFiringRow.task_id) == col(Task.id)).where(
            col(RuleFiringRow.action) == "supervisor_todo")
        if owner_id is not None:
            mine = col(Task.owner_id) == owner_id
            stmt = stmt.where(sa.or_(mine, col(Task.owner_id).is_(None)) if include_unowned
                              else mine)
        if status is not None:
            stmt = stmt.where(col(Task.status) == status)
        stmt = stmt.order_by(col(Task.priority).desc(), col(Task.created_at).desc())
        async with self._sessions() as s:
            check_page(limit, offset)
            total = await s.scalar(sa.select(sa.func.count()).select_from(
                stmt.order_by(None).subquery()))
            rows = (await s.execute(stmt.limit(limit).offset(offset))).all()
        return Page(items=[(t, f) for t, f in rows], total=int(total or 0), limit=limit,
                    offset=offset)
