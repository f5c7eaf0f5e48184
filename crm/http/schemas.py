"""Request schemas (pydantic) for the /api edge: they validate input and feed OpenAPI.

Unknown fields are rejected (``extra="forbid"``) so typos fail loudly, naming the field.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from crm.domain.enums import (
    CampaignStatus,
    DispositionCategory,
    Language,
    LeadStatus,
    Role,
    TaskStatus,
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageQuery(_Query):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class CustomerQuery(PageQuery):
    q: str | None = Field(None, max_length=200,
                          description="name substring, a phone number or any part of one")
    tag: str | None = Field(None, max_length=64)
    owner: str | None = Field(None, max_length=64,
                              description="username of the agent the customer's leads are "
                                          "assigned to")


class ConflictQuery(_Query):
    on_conflict: Literal["merge", "report"] = "report"


class SummaryQuery(_Query):
    language: Language = Language.ZH


class TaskQuery(PageQuery):
    owner_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    status: TaskStatus | None = None
    due_before: AwareDatetime | None = None


class CallQuery(PageQuery):
    customer_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None


class CampaignQuery(PageQuery):
    status: CampaignStatus | None = None


class LeadQuery(PageQuery):
    status: LeadStatus | None = None
    agent_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


class DncQuery(PageQuery):
    campaign_id: uuid.UUID | None = None
    number: str | None = Field(None, max_length=64)


class DncCheckQuery(_Query):
    number: str = Field(max_length=64)
    campaign_id: uuid.UUID | None = None


class UserQuery(PageQuery):
    role: Role | None = None


class ImportQuery(_Query):
    format: Literal["csv", "json", "ndjson"] = "csv"
    on_conflict: Literal["merge", "report"] = "merge"
    encoding: Literal["utf-8", "utf-8-sig", "gb18030", "gbk"] = "utf-8-sig"
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    mapping: str | None = Field(
        None,
        description="JSON object: our field → source column, "
        'e.g. {"phone": "手机号", "name": "姓名"}',
    )


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class CustomerIn(_In):
    name: str = Field(min_length=1, max_length=200)
    phones: list[str] = Field(default_factory=list, max_length=20)
    email: str | None = Field(None, max_length=254)
    timezone: str | None = Field(None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=50)
    external_ref: str | None = Field(None, max_length=128)


class CustomerPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254)
    timezone: str | None = Field(None, max_length=64)
    add_phones: list[str] = Field(default_factory=list, max_length=20)
    remove_phones: list[str] = Field(default_factory=list, max_length=20)
    add_tags: list[str] = Field(default_factory=list, max_length=50)
    remove_tags: list[str] = Field(default_factory=list, max_length=50)


class MergeIn(_In):
    source_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)


class NumberIn(_In):
    number: str = Field(min_length=1, max_length=64)


class NoteIn(_In):
    body: str = Field(min_length=1, max_length=20_000)
    call_id: str | None = Field(None, max_length=128)


class TaskIn(_In):
    title: str = Field(min_length=1, max_length=200)
    customer_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    due_at: AwareDatetime | None = None
    priority: int = Field(0, ge=-1000, le=1000)
    description: str | None = Field(None, max_length=10_000)
    call_id: str | None = Field(None, max_length=128)


class TaskPatch(_In):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    due_at: AwareDatetime | None = None
    owner_id: uuid.UUID | None = None
    priority: int | None = Field(None, ge=-1000, le=1000)
    status: TaskStatus | None = None


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class CampaignPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    manager_id: uuid.UUID | None = None
    status: CampaignStatus | None = None
    timezone: str | None = Field(None, max_length=64)
    window_start: str | None = Field(None, pattern=_HHMM)
    window_end: str | None = Field(None, pattern=_HHMM)
    max_attempts: int | None = Field(None, ge=1, le=100)
    retry_no_answer_minutes: int | None = Field(None, ge=1, le=100_000)
    retry_busy_minutes: int | None = Field(None, ge=1, le=100_000)
    retry_failed_minutes: int | None = Field(None, ge=1, le=100_000)
    retry_machine_minutes: int | None = Field(None, ge=1, le=100_000)
    retry_abandoned_minutes: int | None = Field(None, ge=1, le=100_000)
    max_retries_no_answer: int | None = Field(None, ge=0, le=100)
    max_retries_busy: int | None = Field(None, ge=0, le=100)
    max_retries_machine: int | None = Field(None, ge=0, le=100)
    max_retries_abandoned: int | None = Field(None, ge=0, le=100)
    max_retries_failed: int | None = Field(None, ge=0, le=100)


class CampaignIn(CampaignPatch):
    name: str = Field(min_length=1, max_length=200)


class LeadIn(_In):
    phone: str = Field(min_length=1, max_length=64)
    name: str | None = Field(None, max_length=200)
    alt_phone: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=254)
    tags: list[str] = Field(default_factory=list, max_length=50)
    priority: int = Field(0, ge=-1000, le=1000)
    timezone: str | None = Field(None, max_length=64)
    agent: str | None = Field(None, max_length=64, description="agent username")


class LeadPatch(_In):
    priority: int | None = Field(None, ge=-1000, le=1000)
    agent_id: uuid.UUID | None = None
    status: LeadStatus | None = None
    next_attempt_at: AwareDatetime | None = None
    timezone: str | None = Field(None, max_length=64)


class DncIn(_In):
    number: str = Field(min_length=1, max_length=64)
    campaign_id: uuid.UUID | None = None
    reason: str | None = Field(None, max_length=200)


class UserIn(_In):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    role: Role
    password: str | None = Field(None, min_length=8, max_length=1024)
    display_name: str | None = Field(None, max_length=200)


class UserPatch(_In):
    display_name: str | None = Field(None, max_length=200)
    role: Role | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)
    current_password: str | None = Field(
        None, max_length=1024, description="required to change one's own password"
    )
    active: bool | None = None


class TokenIn(_In):
    name: str = Field("api", min_length=1, max_length=100)
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="lifetime; default: the configured one (90 days)"
    )


class TokenQuery(PageQuery):
    user_id: uuid.UUID | None = Field(None, description="another user's tokens (admin)")


class ScriptIn(_In):
    name: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=50_000)
    language: Language = Language.ZH
    tags: list[str] = Field(default_factory=list, max_length=50)
    priority: int = 0
    campaign_id: uuid.UUID | None = Field(
        None, description="the campaign whose pops show it (its manager); null: every "
        "campaign's (admins only)")


class ScriptPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    body: str | None = Field(None, min_length=1, max_length=50_000)
    language: Language | None = None
    tags: list[str] | None = Field(None, max_length=50)
    priority: int | None = None
    active: bool | None = None


class DispositionIn(_In):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    label_zh: str = Field(min_length=1, max_length=100)
    label_en: str = Field(min_length=1, max_length=100)
    is_final: bool = False
    is_success: bool = False
    category: DispositionCategory = Field(
        DispositionCategory.CONTACT, description="what the dialer does with it: callback needs "
        "a time, dnc puts the number on the do-not-call list")
    campaign_id: uuid.UUID | None = Field(None, description="one campaign's own code (none: "
                                          "every campaign's)")
    shortcut: str | None = Field(None, pattern=r"^[0-9a-z]$",
                                 description="the agent page's key for it")
    sort_order: int = Field(100, ge=0, le=10_000)


class DispositionQuery(_Query):
    campaign_id: uuid.UUID | None = Field(None, description="that campaign's wrap-up codes")
    all: bool = Field(False, description="every code, each campaign's and inactive ones too")


class CallEventIn(BaseModel):
    """A call event pushed by the dialer (idempotent by ``event_id``)."""

    model_config = ConfigDict(extra="allow")
    event_id: str = Field(max_length=128)
    call_id: str = Field(max_length=128)
    type: Literal[
        "originated",
        "ringing",
        "answered",
        "bridged",
        "ended",
        "recording_ready",
        "disposition_set",
        "intent_scored",
        "wrapup_ended",
        "updated",
        "connected",
        "hungup",
    ]
    occurred_at: AwareDatetime | None = None
    customer_id: str | None = None
    campaign_id: str | None = None
    lead_id: str | None = None
    agent_id: str | None = Field(None, description="user id or username")
    number_dialed: str | None = None
    outcome: str | None = None
    hangup_cause: str | None = None
    talk_seconds: float | None = Field(None, ge=0)
    wrap_seconds: float | None = Field(None, ge=0)
    hold_seconds: float | None = Field(None, ge=0, description="the customer's time on hold")
    recording_url: str | None = None
    disposition: str | None = None
    intent_score: float | None = Field(None, ge=0, le=1)
    closed_by: str | None = Field(None, max_length=32, description=(
        "the dialer closed the call without its hang-up event: reconcile, subscription_check"))


def set_fields(model: BaseModel) -> dict[str, Any]:
    """The fields the client actually sent (PATCH semantics)."""
    return {k: getattr(model, k) for k in model.model_fields_set}
