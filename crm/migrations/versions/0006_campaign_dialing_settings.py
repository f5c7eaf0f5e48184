"""Campaign dialing settings edited from the manager console (issue 7).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from crm.db.types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_dialing_settings",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("mode", AutoString(length=16), nullable=False),
        sa.Column("pacing", AutoString(length=8), nullable=False),
        sa.Column("dial_ratio", sa.Float(), nullable=False),
        sa.Column("max_lines", sa.Integer(), nullable=False),
        sa.Column("abandon_target", sa.Float(), nullable=False),
        sa.Column("abandon_window", AutoString(length=8), nullable=False),
        sa.Column("abandon_after_s", sa.Float(), nullable=False),
        sa.Column("ring_timeout_s", sa.Integer(), nullable=False),
        sa.Column("amd", sa.Boolean(), nullable=False),
        sa.Column("machine_action", AutoString(length=16), nullable=False),
        sa.Column("machine_message", AutoString(length=128), nullable=False),
        sa.Column("safe_harbour", AutoString(length=128), nullable=False),
        sa.Column("wrap_up_limit_s", sa.Float(), nullable=False),
        sa.Column("caller_id", AutoString(length=64), nullable=False),
        sa.Column("channel_template", AutoString(length=200), nullable=False),
        sa.Column("record", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("campaign_id"),
    )


def downgrade() -> None:
    op.drop_table("campaign_dialing_settings")
