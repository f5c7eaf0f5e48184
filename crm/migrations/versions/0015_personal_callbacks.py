"""Callbacks that belong to someone (issue 13 item 3): ``leads.callback_owner`` (the agent's
username of a personal callback; NULL: the campaign's) and the campaign's grace before a personal
callback of an absent agent goes to the campaign (``callback_grace_min``, default 30).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_owner", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_leads_callback_owner", ["callback_owner"])
    with op.batch_alter_table("campaign_dialing_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_grace_min", sa.Integer(), nullable=False,
                                      server_default="30"))


def downgrade() -> None:
    with op.batch_alter_table("campaign_dialing_settings", schema=None) as batch_op:
        batch_op.drop_column("callback_grace_min")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_callback_owner")
        batch_op.drop_column("callback_owner")
