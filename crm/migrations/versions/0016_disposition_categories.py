"""Dispositions per campaign (issue 13 item 7): ``dispositions.category`` (success, contact,
no_contact, callback, dnc: what the dialer does with the code), ``campaign_id`` (NULL: every
campaign's; else that campaign's own code), ``shortcut`` (the agent page's key) and
``sort_order``. The built-in codes get their category and the keys 1-6.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels = None
depends_on = None

BUILT_IN = {  # code: (category, shortcut, order)
    "sale": ("success", "1", 10), "interested": ("contact", "2", 20),
    "callback": ("callback", "3", 30), "not_interested": ("contact", "4", 40),
    "wrong_number": ("no_contact", "5", 50), "do_not_call": ("dnc", "6", 60),
}


def upgrade() -> None:
    with op.batch_alter_table("dispositions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=16), nullable=False,
                                      server_default="contact"))
        batch_op.add_column(sa.Column("campaign_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("shortcut", sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column("sort_order", sa.Integer(), nullable=False,
                                      server_default="100"))
        batch_op.create_foreign_key("fk_dispositions_campaign", "campaigns", ["campaign_id"],
                                    ["id"])
        batch_op.create_index("ix_dispositions_campaign", ["campaign_id"])
    table = sa.table("dispositions", sa.column("code", sa.String()),
                     sa.column("category", sa.String()), sa.column("shortcut", sa.String()),
                     sa.column("sort_order", sa.Integer()), sa.column("is_success", sa.Boolean()))
    for code, (category, key, order) in BUILT_IN.items():
        op.execute(table.update().where(table.c.code == code)
                   .values(category=category, shortcut=key, sort_order=order))
    op.execute(table.update().where(table.c.code.notin_(list(BUILT_IN)),
                                    table.c.is_success.is_(True)).values(category="success"))


def downgrade() -> None:
    with op.batch_alter_table("dispositions", schema=None) as batch_op:
        batch_op.drop_index("ix_dispositions_campaign")
        batch_op.drop_constraint("fk_dispositions_campaign", type_="foreignkey")
        batch_op.drop_column("sort_order")
        batch_op.drop_column("shortcut")
        batch_op.drop_column("campaign_id")
        batch_op.drop_column("category")
