"""Index on calls.originated_at for reports across all campaigns (by day / by date range).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_originated", "calls", ["originated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_calls_originated", table_name="calls")
