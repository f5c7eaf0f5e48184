"""Enumerations shared by the CRM layers (stored as their string values)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"
    # machine account used by the dialer: pushes calls, reads pops, runs the hopper
    DIALER = "dialer"


class PhoneType(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    VOIP = "voip"
    UNKNOWN = "unknown"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class DispositionCategory(StrEnum):
    """What a disposition code means to the dialer and the reports (issue 13 item 7)."""

    SUCCESS = "success"  # the goal reached (a sale)
    CONTACT = "contact"  # spoke with the customer, no success
    NO_CONTACT = "no_contact"  # not the customer (wrong number, ...)
    CALLBACK = "callback"  # call back at a time the customer gave (needs callback_at)
    DNC = "dnc"  # never call again (the number goes on the do-not-call list)


class TaskOrigin(StrEnum):
    MANUAL = "manual"
    CALL = "call"
    RULE = "rule"
    IMPORT = "import"


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class LeadStatus(StrEnum):
    NEW = "new"
    RETRY = "retry"
    CALLBACK = "callback"
    DONE = "done"
    EXHAUSTED = "exhausted"
    DNC = "dnc"

    @property
    def dialable(self) -> bool:
        return self in (LeadStatus.NEW, LeadStatus.RETRY, LeadStatus.CALLBACK)


class AttemptOutcome(StrEnum):
    """What happened to one dial attempt, as the dialer reports it."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    MACHINE = "machine"
    ABANDONED = "abandoned"
    INVALID_NUMBER = "invalid_number"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"
