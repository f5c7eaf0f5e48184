"""The customer's time on music on hold is kept on the call (issue 13 item 5):
``calls.hold_seconds``, from the dialer's ``ended`` event; summed in the reports. Earlier rows
are left NULL (no hold was possible then).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("hold_seconds")
