"""SQLModel tables of the speech-analytics slice: transcript segments, per-call analysis,
workflow rules stored in the database, and the audit trail of every rule firing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.db.models import _ts


class TranscriptSegmentRow(SQLModel, table=True):
    """One recognised utterance (or a gap in the audio) of a call; idempotent by
    ``(call_id, segment_id)``. No foreign key to ``calls``: segments may arrive first."""

    __tablename__ = "transcript_segments"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "segment_id", name="uq_transcript_call_segment"),
        sa.Index("ix_transcript_call_start", "call_id", "start_s"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(max_length=128)
    segment_id: str = Field(max_length=255)
    speaker: str = Field(max_length=16)
    start_s: float
    end_s: float
    text: str | None = Field(default=None, sa_type=sa.Text)
    confidence: float | None = None
    language: str | None = Field(default=None, max_length=16)
    gap: bool = False
    reason: str | None = Field(default=None, max_length=200)
    concepts: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    sentiment: float | None = None
    received_at: datetime = _ts()
    processed_at: datetime | None = _ts(nullable=True)


class CallAnalysisRow(SQLModel, table=True):
    """The post-call analysis: sentiment over the call and the intent score 0-10."""

    __tablename__ = "call_analyses"

    call_id: str = Field(primary_key=True, max_length=128)
    sentiment: float
    sentiment_label: str = Field(max_length=16)
    intent_score: float
    intent_factors: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=sa.JSON, nullable=False
    )
    concepts: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    segments: int = 0
    outcome: str | None = Field(default=None, max_length=32)
    analysed_at: datetime = _ts()


class WorkflowRuleRow(SQLModel, table=True):
    """A workflow rule as its document (validated by :mod:`crm.rules.parser` on every write)."""

    __tablename__ = "workflow_rules"

    id: str = Field(primary_key=True, max_length=64)
    trigger: str = Field(max_length=16)
    priority: int = 100
    enabled: bool = True
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    updated_by: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None  # who created it (None: admin-owned, e.g. the defaults)


class RuleFiringRow(SQLModel, table=True):
    """The audit of one action a rule took: which rule, which call, the evidence, the result.
    ``dedupe_key`` makes a retried segment or a re-run post-call analysis fire nothing twice."""

    __tablename__ = "rule_firings"
    __table_args__ = (sa.Index("ix_rule_firings_call", "call_id", "fired_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=600, unique=True)
    rule_id: str = Field(max_length=64, index=True)
    rule_name: str = Field(max_length=200)
    trigger: str = Field(max_length=16)
    call_id: str | None = Field(default=None, max_length=128)
    segment_id: str | None = Field(default=None, max_length=255)
    customer_id: uuid.UUID | None = None
    action: str = Field(max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    evidence: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    task_id: uuid.UUID | None = Field(default=None, index=True)
    fired_at: datetime = _ts()
