"""Lead dialing rules: retry scheduling after an attempt and calling windows (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm.domain.enums import AttemptOutcome, LeadStatus


@dataclass(frozen=True)
class RetryPolicy:
    """How a campaign recycles leads. Delays are per outcome, in minutes."""

    max_attempts: int = 5
    no_answer_minutes: int = 60
    busy_minutes: int = 15
    failed_minutes: int = 30
    machine_minutes: int = 120
    abandoned_minutes: int = 5

    def delay_for(self, outcome: AttemptOutcome) -> timedelta | None:
        minutes = {
            AttemptOutcome.NO_ANSWER: self.no_answer_minutes,
            AttemptOutcome.BUSY: self.busy_minutes,
            AttemptOutcome.FAILED: self.failed_minutes,
            AttemptOutcome.MACHINE: self.machine_minutes,
            AttemptOutcome.ABANDONED: self.abandoned_minutes,
        }.get(outcome)
        return None if minutes is None else timedelta(minutes=minutes)


@dataclass(frozen=True)
class AttemptResult:
    status: LeadStatus
    next_attempt_at: datetime | None


def schedule_after_attempt(
    *,
    outcome: AttemptOutcome,
    attempts_after: int,
    now: datetime,
    policy: RetryPolicy,
    disposition_final: bool = False,
    callback_at: datetime | None = None,
) -> AttemptResult:
    """Decide the lead's next status and next attempt time after one attempt.

    A callback time wins (the customer asked); a final disposition or an invalid number ends the
    lead; an answered call without a final disposition is retried like a no-answer; otherwise the
    lead is retried after the outcome's delay until ``max_attempts`` is reached.
    """
    if callback_at is not None:
        return AttemptResult(LeadStatus.CALLBACK, callback_at)
    if disposition_final or outcome is AttemptOutcome.INVALID_NUMBER:
        return AttemptResult(LeadStatus.DONE, None)
    if attempts_after >= policy.max_attempts:
        return AttemptResult(LeadStatus.EXHAUSTED, None)
    delay = policy.delay_for(outcome) or timedelta(minutes=policy.no_answer_minutes)
    return AttemptResult(LeadStatus.RETRY, now + delay)


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
