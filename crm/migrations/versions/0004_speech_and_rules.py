"""Transcript segments, per-call analysis, workflow rules and the rule-firing audit (issue 6).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from crm.db.types import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_analyses",
        sa.Column("call_id", AutoString(length=128), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("sentiment_label", AutoString(length=16), nullable=False),
        sa.Column("intent_score", sa.Float(), nullable=False),
        sa.Column("intent_factors", sa.JSON(), nullable=False),
        sa.Column("concepts", sa.JSON(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("outcome", AutoString(length=32), nullable=True),
        sa.Column("analysed_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_table(
        "rule_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", AutoString(length=600), nullable=False),
        sa.Column("rule_id", AutoString(length=64), nullable=False),
        sa.Column("rule_name", AutoString(length=200), nullable=False),
        sa.Column("trigger", AutoString(length=16), nullable=False),
        sa.Column("call_id", AutoString(length=128), nullable=True),
        sa.Column("segment_id", AutoString(length=255), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("action", AutoString(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("fired_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_rule_firings_call", "rule_firings", ["call_id", "fired_at"], unique=False)
    op.create_index(op.f("ix_rule_firings_rule_id"), "rule_firings", ["rule_id"], unique=False)
    op.create_index(op.f("ix_rule_firings_task_id"), "rule_firings", ["task_id"], unique=False)
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", AutoString(length=128), nullable=False),
        sa.Column("segment_id", AutoString(length=255), nullable=False),
        sa.Column("speaker", AutoString(length=16), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("language", AutoString(length=16), nullable=True),
        sa.Column("gap", sa.Boolean(), nullable=False),
        sa.Column("reason", AutoString(length=200), nullable=True),
        sa.Column("concepts", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "segment_id", name="uq_transcript_call_segment"),
    )
    op.create_index(
        "ix_transcript_call_start", "transcript_segments", ["call_id", "start_s"], unique=False
    )
    op.create_table(
        "workflow_rules",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("trigger", AutoString(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_index("ix_transcript_call_start", table_name="transcript_segments")
    op.drop_table("transcript_segments")
    op.drop_index(op.f("ix_rule_firings_task_id"), table_name="rule_firings")
    op.drop_index(op.f("ix_rule_firings_rule_id"), table_name="rule_firings")
    op.drop_index("ix_rule_firings_call", table_name="rule_firings")
    op.drop_table("rule_firings")
    op.drop_table("workflow_rules")
    op.drop_table("call_analyses")
