"""Lead dialing rules: retry scheduling after an attempt and calling windows (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm.domain.enums import AttemptOutcome, LeadStatus


@dataclass(frozen=True)
class RetryRule:
    """After one outcome: wait ``delay_minutes``, and retry at most ``max_retries`` times."""

    delay_minutes: int
    max_retries: int


_DEFAULT_RULES: dict[AttemptOutcome, RetryRule] = {
    AttemptOutcome.NO_ANSWER: RetryRule(60, 4),
    AttemptOutcome.BUSY: RetryRule(15, 4),
    AttemptOutcome.FAILED: RetryRule(30, 4),
    AttemptOutcome.MACHINE: RetryRule(120, 4),
    AttemptOutcome.ABANDONED: RetryRule(5, 4),
}
# An answered call without a final disposition is retried like a no-answer.
_RULE_OF = {AttemptOutcome.ANSWERED: AttemptOutcome.NO_ANSWER}


@dataclass(frozen=True)
class RetryPolicy:
    """How a campaign recycles leads: a delay and a maximum of retries per outcome, and
    ``max_attempts`` over all outcomes."""

    max_attempts: int = 5
    rules: dict[AttemptOutcome, RetryRule] = field(default_factory=lambda: dict(_DEFAULT_RULES))

    def rule_for(self, outcome: AttemptOutcome) -> RetryRule:
        key = _RULE_OF.get(outcome, outcome)
        return self.rules.get(key) or _DEFAULT_RULES[AttemptOutcome.NO_ANSWER]

    def delay_for(self, outcome: AttemptOutcome) -> timedelta:
        return timedelta(minutes=self.rule_for(outcome).delay_minutes)

    def exhausted_by(self, counts: Mapping[str, int]) -> AttemptOutcome | None:
        """The outcome whose retries are used up by these per-outcome attempt counts, if any.

        ``n`` attempts that ended with an outcome used ``n - 1`` retries of it, and the last one
        asks for one more: the lead may be retried while ``n <= max_retries``."""
        per_rule: dict[AttemptOutcome, int] = {}
        for name, n in counts.items():
            try:
                key = AttemptOutcome(name)
            except ValueError:
                continue
            key = _RULE_OF.get(key, key)
            per_rule[key] = per_rule.get(key, 0) + int(n)
        for key, n in per_rule.items():
            if key in self.rules and n > self.rules[key].max_retries:
                return key
        return None


def count_outcome(counts: Mapping[str, int], outcome: AttemptOutcome) -> dict[str, int]:
    """The lead's per-outcome attempt counts after one more attempt."""
    return {**counts, outcome.value: int(counts.get(outcome.value, 0)) + 1}


def exhausted_reason(outcome: AttemptOutcome, policy: RetryPolicy) -> str:
    return f"{outcome.value} retries exhausted ({policy.rules[outcome].max_retries})"


@dataclass(frozen=True)
class AttemptResult:
    status: LeadStatus
    next_attempt_at: datetime | None
    close_reason: str | None = None


def schedule_after_attempt(
    *,
    outcome: AttemptOutcome,
    attempts_after: int,
    now: datetime,
    policy: RetryPolicy,
    disposition_final: bool = False,
    callback_at: datetime | None = None,
    counts_after: Mapping[str, int] | None = None,
) -> AttemptResult:
    """Decide the lead's next status and next attempt time after one attempt.

    A callback time wins (the customer asked); a final disposition or an invalid number ends the
    lead; otherwise the lead is retried after the outcome's delay until ``max_attempts`` is
    reached or the outcome's own maximum of retries is used up (``counts_after``: the lead's
    per-outcome attempt counts including this one), and then closed with the reason.
    """
    if callback_at is not None:
        return AttemptResult(LeadStatus.CALLBACK, callback_at)
    if disposition_final:
        return AttemptResult(LeadStatus.DONE, None, "final disposition")
    if outcome is AttemptOutcome.INVALID_NUMBER:
        return AttemptResult(LeadStatus.DONE, None, "invalid number")
    if attempts_after >= policy.max_attempts:
        return AttemptResult(
            LeadStatus.EXHAUSTED, None, f"max attempts reached ({policy.max_attempts})"
        )
    counts = counts_after if counts_after is not None else count_outcome({}, outcome)
    spent = policy.exhausted_by(counts)
    if spent is not None:
        return AttemptResult(LeadStatus.EXHAUSTED, None, exhausted_reason(spent, policy))
    return AttemptResult(LeadStatus.RETRY, now + policy.delay_for(outcome))


@dataclass(frozen=True)
class CallingWindow:
    """Local-time window (in the lead's own zone) during which a lead may be dialled."""

    start: time = time(9, 0)
    end: time = time(21, 0)

    def allows(self, now: datetime, zone: str) -> bool:
        local = now.astimezone(ZoneInfo(zone)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # window spanning midnight
