"""Errors raised by ``crm.rules``.

Hierarchy::

    RulesError              base of everything raised here
    └── RuleSyntaxError     a rule document is malformed; carries the rule id and field path
"""

from __future__ import annotations


class RulesError(Exception):
    """Base class of the rules-engine errors."""


class RuleSyntaxError(RulesError):
    """A rule failed validation. ``rule`` is its id (or ``#index``), ``field`` a dotted path."""

    def __init__(self, rule: str, field: str, message: str) -> None:
        self.rule, self.field, self.message = rule, field, message
        super().__init__(f"rule {rule!r}: field {field!r}: {message}")
