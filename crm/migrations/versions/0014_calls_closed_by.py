"""A call closed without its hang-up event says so (issue 17 finding 18): ``calls.closed_by``.

"reconcile": it ended while the controller was down and was closed at the restart (with
Asterisk's hang-up time when Asterisk kept it); "subscription_check": its hang-up event never
came. Rows of earlier calls are left NULL (rebuilt from their events on their next event).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("closed_by")
