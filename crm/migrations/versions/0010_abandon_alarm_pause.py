"""The abandon alarm's pause (issue 18 item 1): a campaign setting, on by default.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign_dialing_settings") as batch:
        batch.add_column(sa.Column("pause_predictive_on_abandon_alarm", sa.Boolean(),
                                   nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("campaign_dialing_settings") as batch:
        batch.drop_column("pause_predictive_on_abandon_alarm")
