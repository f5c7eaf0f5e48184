"""Per-outcome retry delays and maximums on campaigns (issue 3).

Campaigns get the machine and abandoned delays (were hard-coded) and, for each outcome, the
number of retries allowed; leads count their outcomes and say why they were closed.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

_CAMPAIGN_INTS = (
    ("retry_machine_minutes", "120"),
    ("retry_abandoned_minutes", "5"),
    ("max_retries_no_answer", "4"),
    ("max_retries_busy", "4"),
    ("max_retries_machine", "4"),
    ("max_retries_abandoned", "4"),
    ("max_retries_failed", "4"),
)


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        for name, default in _CAMPAIGN_INTS:
            batch_op.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default=default)
            )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outcome_counts", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column("close_reason", AutoString(length=128), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("close_reason")
        batch_op.drop_column("outcome_counts")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        for name, _ in reversed(_CAMPAIGN_INTS):
            batch_op.drop_column(name)
