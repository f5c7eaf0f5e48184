"""Index for the screen pop's open tasks of one customer.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_customer_status_due", "tasks",
                    ["customer_id", "status", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_customer_status_due", table_name="tasks")
