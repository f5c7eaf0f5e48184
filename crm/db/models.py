"""SQLModel tables: customers and everything hanging off them (numbers, tags, notes, tasks,
calls, call events, recordings). Campaign/lead/user tables live in :mod:`crm.db.models_ops`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.db.types import UtcDateTime, binary_collated_string, utcnow
from crm.domain.enums import PhoneType, TaskOrigin, TaskStatus

metadata = SQLModel.metadata


def _uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UtcDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False, index=index)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (sa.Index("ix_customers_sort", "name_key", "name"),)

    id: uuid.UUID = _uuid_pk()
    name: str = Field(sa_type=binary_collated_string(200), nullable=False)
    name_key: str = Field(sa_type=binary_collated_string(200), nullable=False)
    email: str | None = Field(default=None, max_length=254)
    timezone: str | None = Field(default=None, max_length=64)
    external_ref: str | None = Field(default=None, max_length=128, index=True)
    merged_into_id: uuid.UUID | None = Field(default=None, foreign_key="customers.id")
    last_call_time: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class PhoneNumber(SQLModel, table=True):
    __tablename__ = "phone_numbers"

    id: uuid.UUID = _uuid_pk()
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    e164: str = Field(max_length=20, unique=True)
    number_type: str = Field(default=PhoneType.UNKNOWN.value, max_length=16)
    raw: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    name_key: str = Field(max_length=64, unique=True)


class CustomerTag(SQLModel, table=True):
    __tablename__ = "customer_tags"
    __table_args__ = (sa.Index("ix_customer_tags_tag", "tag_id"),)

    customer_id: uuid.UUID = Field(foreign_key="customers.id", primary_key=True)
    tag_id: int = Field(foreign_key="tags.id", primary_key=True)


class Note(SQLModel, table=True):
    __tablename__ = "notes"
    __table_args__ = (sa.Index("ix_notes_customer_created", "customer_id", "created_at"),)

    id: uuid.UUID = _uuid_pk()
    customer_id: uuid.UUID = Field(foreign_key="customers.id")
    call_id: str | None = Field(default=None, max_length=128)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    body: str = Field(sa_type=sa.Text, nullable=False)
    created_at: datetime = _ts()


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        sa.Index("ix_tasks_status_due", "status", "due_at"),
        sa.Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),
        sa.Index("ix_tasks_customer_status_due", "customer_id", "status", "due_at"),  # the pop
    )

    id: uuid.UUID = _uuid_pk()
    customer_id: uuid.UUID | None = Field(default=None, foreign_key="customers.id", index=True)
    call_id: str | None = Field(default=None, max_length=128)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=sa.Text)
    due_at: datetime | None = _ts(nullable=True)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    priority: int = Field(default=0)
    status: str = Field(default=TaskStatus.OPEN.value, max_length=16)
    origin: str = Field(default=TaskOrigin.MANUAL.value, max_length=16)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    completed_at: datetime | None = _ts(nullable=True)


class Call(SQLModel, table=True):
    """The projection of a call's events (rebuilt on every new event)."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_customer_originated", "customer_id", "originated_at"),
        sa.Index("ix_calls_campaign_originated", "campaign_id", "originated_at"),
        sa.Index("ix_calls_agent_originated", "agent_id", "originated_at"),
        sa.Index("ix_calls_originated", "originated_at"),  # reports across all campaigns
    )

    call_id: str = Field(primary_key=True, max_length=128)
    customer_id: uuid.UUID | None = Field(default=None, foreign_key="customers.id")
    campaign_id: uuid.UUID | None = Field(default=None, foreign_key="campaigns.id")
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="leads.id")
    agent_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    state: str = Field(max_length=16)
    number_dialed: str | None = Field(default=None, max_length=64)
    originated_at: datetime | None = _ts(nullable=True)
    answered_at: datetime | None = _ts(nullable=True)
    bridged_at: datetime | None = _ts(nullable=True)
    ended_at: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, max_length=32)
    hangup_cause: str | None = Field(default=None, max_length=64)
    talk_seconds: float | None = None
    wrap_seconds: float | None = None
    hold_seconds: float | None = None  # the customer's time on hold (issue 13 item 5)
    recording_url: str | None = Field(default=None, max_length=2048)
    recording_id: uuid.UUID | None = Field(default=None, foreign_key="recordings.id")
    disposition: str | None = Field(default=None, max_length=64)
    intent_score: float | None = None
    # set when the dialer closed the call without its hang-up event: "reconcile" (it ended
    # while the controller was down), "subscription_check"; None for an ordinary end
    closed_by: str | None = Field(default=None, max_length=32)
    last_event_at: datetime | None = _ts(nullable=True)
    event_count: int = 0
    updated_at: datetime = _ts()


class CallEventRow(SQLModel, table=True):
    """Every event the dialer pushed, exactly once (``event_id`` is unique)."""

    __tablename__ = "call_events"
    __table_args__ = (sa.Index("ix_call_events_call_occurred", "call_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128, unique=True)
    call_id: str = Field(max_length=128)
    type: str = Field(max_length=32)
    occurred_at: datetime = _ts()
    received_at: datetime = _ts()
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


class Recording(SQLModel, table=True):
    __tablename__ = "recordings"

    id: uuid.UUID = _uuid_pk()
    call_id: str = Field(max_length=128, index=True)
    path: str = Field(max_length=1024)
    size_bytes: int = Field(sa_type=sa.BigInteger, nullable=False)
    duration_seconds: float | None = None
    sha256: str = Field(max_length=64)
    content_type: str = Field(default="application/octet-stream", max_length=100)
    key_id: str | None = Field(default=None, max_length=64)  # None: a legacy plaintext file
    created_at: datetime = _ts()
    purged_at: datetime | None = _ts(nullable=True)  # file deleted (retention, erasure)
    purge_reason: str | None = Field(default=None, max_length=32)
