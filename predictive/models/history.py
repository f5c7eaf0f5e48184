"""``CallHistoryRow``: the plain shape the CRM maps its call attempts into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OUTCOMES = ("live", "machine", "busy", "no_answer", "failed")
NUMBER_TYPES = ("mobile", "landline", "voip", "unknown")


@dataclass(frozen=True, slots=True)
class CallHistoryRow:
    """One past dial attempt, with what was known about the lead *before* it."""

    lead_id: str
    list_id: str
    attempted_at: datetime  # instant of the attempt (any timezone-aware or naive UTC)
    local_hour: int  # 0..23 in the lead's timezone
    local_weekday: int  # 0 = Monday
    attempt_no: int  # attempts before this one
    hours_since_last: float | None  # None for a first attempt
    last_outcome: str | None  # one of OUTCOMES, None for a first attempt
    number_type: str  # one of NUMBER_TYPES
    region: str
    lead_age_days: float
    outcome: str  # one of OUTCOMES: what this attempt ended in
    talk_s: float = 0.0
    disposition: str | None = None

    @property
    def live(self) -> bool:
        return self.outcome == "live"
