"""Recording encryption key ids and retention (issue 7).

Campaigns get ``retention_days`` (recordings older than that are purged; NULL keeps them);
recordings say when and why their file was purged (retention, erasure). The key id column
(``recordings.key_id``) exists since 0001.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from crm.db.types import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("purge_reason", AutoString(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("purge_reason")
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
