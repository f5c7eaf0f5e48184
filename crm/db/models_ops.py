"""SQLModel tables: users and auth, campaigns and leads, dispositions, DNC, scripts, audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.db.models import _ts, _uuid_pk
from crm.domain.enums import CampaignStatus, Language, LeadStatus

GLOBAL_SCOPE = "*"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = _uuid_pk()
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=256)
    active: bool = True
    created_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: uuid.UUID = _uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)  # written at most once a minute
    revoked_at: datetime | None = _ts(nullable=True)
    expires_at: datetime | None = _ts(nullable=True)  # None: refused (every issued token has one)


class UserSession(SQLModel, table=True):
    __tablename__ = "sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"

    id: uuid.UUID = _uuid_pk()
    name: str = Field(max_length=200, unique=True)
    manager_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    status: str = Field(default=CampaignStatus.ACTIVE.value, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    window_start: str = Field(default="09:00", max_length=5)
    window_end: str = Field(default="21:00", max_length=5)
    max_attempts: int = 5
    retry_no_answer_minutes: int = 60
    retry_busy_minutes: int = 15
    retry_failed_minutes: int = 30
    retry_machine_minutes: int = 120
    retry_abandoned_minutes: int = 5
    # Retries allowed after each outcome (beyond max_attempts, which caps every lead).
    max_retries_no_answer: int = 4
    max_retries_busy: int = 4
    max_retries_machine: int = 4
    max_retries_abandoned: int = 4
    max_retries_failed: int = 4
    # recordings of this campaign's calls are deleted after N days; None keeps them
    retention_days: int | None = None
    created_at: datetime = _ts()


class Lead(SQLModel, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "phone_e164", name="uq_leads_campaign_phone"),
        sa.Index("ix_leads_campaign_status_next", "campaign_id", "status", "next_attempt_at"),
    )

    id: uuid.UUID = _uuid_pk()
    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id")
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    phone_e164: str = Field(max_length=20)
    agent_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    priority: int = 0
    attempts: int = 0
    status: str = Field(default=LeadStatus.NEW.value, max_length=16)
    next_attempt_at: datetime | None = _ts(nullable=True)
    timezone: str | None = Field(default=None, max_length=64)
    locked_by: str | None = Field(default=None, max_length=128)
    locked_until: datetime | None = _ts(nullable=True)
    last_outcome: str | None = Field(default=None, max_length=32)
    last_attempt_at: datetime | None = _ts(nullable=True)
    last_call_id: str | None = Field(default=None, max_length=128)
    outcome_counts: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    close_reason: str | None = Field(default=None, max_length=128)
    # a personal callback's owner (the agent's username; None: anyone), 0015
    callback_owner: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Disposition(SQLModel, table=True):
    """A wrap-up code: every campaign's (``campaign_id`` NULL) or one campaign's own."""

    __tablename__ = "dispositions"
    __table_args__ = (sa.Index("ix_dispositions_campaign", "campaign_id"),)

    code: str = Field(primary_key=True, max_length=64)
    label_zh: str = Field(max_length=100)
    label_en: str = Field(max_length=100)
    is_final: bool = False
    is_success: bool = False
    active: bool = True
    category: str = Field(default="contact", max_length=16)  # a DispositionCategory
    campaign_id: uuid.UUID | None = Field(default=None, foreign_key="campaigns.id")
    shortcut: str | None = Field(default=None, max_length=1)  # the agent page's key
    sort_order: int = 100


class DncEntry(SQLModel, table=True):
    __tablename__ = "dnc_entries"
    __table_args__ = (sa.UniqueConstraint("e164", "scope", name="uq_dnc_e164_scope"),)

    id: uuid.UUID = _uuid_pk()
    e164: str = Field(max_length=20, index=True)
    campaign_id: uuid.UUID | None = Field(default=None, foreign_key="campaigns.id")
    scope: str = Field(default=GLOBAL_SCOPE, max_length=40)
    reason: str | None = Field(default=None, max_length=200)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _ts()


class ScriptTemplate(SQLModel, table=True):
    """A call script shown in pops: of one campaign (``campaign_id``), or of every campaign
    (None: only an admin adds those). ``owner_id``: the user who made it (None: admin-owned)."""

    __tablename__ = "script_templates"
    __table_args__ = (sa.UniqueConstraint("name", "language", "campaign_id",
                                          name="uq_script_name_language_campaign"),)

    id: uuid.UUID = _uuid_pk()
    campaign_id: uuid.UUID | None = Field(default=None, index=True)
    owner_id: uuid.UUID | None = None
    name: str = Field(max_length=200)
    language: str = Field(default=Language.ZH.value, max_length=8)
    body: str = Field(sa_type=sa.Text, nullable=False)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    priority: int = 0
    active: bool = True
    created_at: datetime = _ts()


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor_id: uuid.UUID | None = None
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=128)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
