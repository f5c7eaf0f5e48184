"""Rule, condition, action, context and firing types of the workflow rules engine (pure data)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm.analysis import CallAnalysis, CallOutcome, UtteranceAnalysis


class Trigger(enum.StrEnum):
    PRE_CALL = "pre_call"
    IN_CALL = "in_call"
    POST_CALL = "post_call"


class Priority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Text:
    """A user-facing string in both languages."""

    en: str
    zh: str


# ---- conditions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagsCondition:
    any: frozenset[str] = frozenset()
    all: frozenset[str] = frozenset()
    none: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class KeywordCondition:
    any: frozenset[str]


@dataclass(frozen=True, slots=True)
class SentimentCondition:
    below: float | None = None
    above: float | None = None


@dataclass(frozen=True, slots=True)
class IntentCondition:
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class OutcomeCondition:
    any: frozenset[CallOutcome]


@dataclass(frozen=True, slots=True)
class TalkTimeCondition:
    min_s: float | None = None
    max_s: float | None = None


@dataclass(frozen=True, slots=True)
class MentionsDateCondition:
    expected: bool = True


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


Condition = (
    TagsCondition | KeywordCondition | SentimentCondition | IntentCondition | OutcomeCondition
    | TalkTimeCondition | MentionsDateCondition | AllOf | AnyOf | Not
)

# ---- actions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecommendScript:
    """pre_call: the script pushed with the screen pop."""

    script: str


@dataclass(frozen=True, slots=True)
class SuggestScript:
    """in_call: shown to the agent live (e.g. the discount script)."""

    script: str
    message: Text


@dataclass(frozen=True, slots=True)
class CreateTask:
    """A CRM task. Due ``due_in`` after the firing, or at the date the customer mentioned
    (``due_from_mention``), falling back to ``due_in``."""

    title: Text
    due_in: timedelta | None = None
    due_from_mention: bool = False
    priority: Priority = Priority.NORMAL
    kind: str = "task"


@dataclass(frozen=True, slots=True)
class SetFollowUpPriority:
    """post_call: re-rank the customer's follow-up."""

    priority: Priority


@dataclass(frozen=True, slots=True)
class SupervisorTodo:
    note: Text


@dataclass(frozen=True, slots=True)
class Nurture:
    """post_call: hand the lead to an automated nurturing programme."""

    program: str


Action = (
    RecommendScript | SuggestScript | CreateTask | SetFollowUpPriority | SupervisorTodo | Nurture
)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    trigger: Trigger
    when: Condition | None
    actions: tuple[Action, ...]
    priority: int = 100  # lower runs first
    enabled: bool = True
    once_per_call: bool = False
    stop: bool = False  # no later rule of the same trigger fires after this one


# ---- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule may look at. Build with :func:`pre_call`, :func:`in_call`,
    :func:`post_call`. ``already_fired`` holds ids of rules that fired earlier in this call."""

    trigger: Trigger
    now: datetime
    call_id: str | None = None
    customer_id: str | None = None
    tags: frozenset[str] = frozenset()
    utterance: UtteranceAnalysis | None = None
    call: CallAnalysis | None = None
    outcome: CallOutcome | None = None
    talk_time_s: float | None = None
    already_fired: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class RuleFiring:
    """One action a rule asks for, with the evidence to audit (rule, call, what was said)."""

    rule_id: str
    rule_name: str
    trigger: Trigger
    call_id: str | None
    customer_id: str | None
    action: Action
    evidence: tuple[str, ...]
    fired_at: datetime
    due_at: datetime | None = None
