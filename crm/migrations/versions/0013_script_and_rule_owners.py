"""Scripts and rules get an owner (issue 17 finding 5); scripts belong to a campaign.

``script_templates.owner_id`` / ``workflow_rules.owner_id``: the user who created it; rows from
before this revision keep None, which the access policy reads as admin-owned.
``script_templates.campaign_id``: the campaign whose pops show the script (None: every
campaign's, as before); a script name is unique per language and campaign.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("script_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
        batch_op.drop_constraint("uq_script_name_language", type_="unique")
        batch_op.create_unique_constraint(
            "uq_script_name_language_campaign", ["name", "language", "campaign_id"])
        batch_op.create_index(batch_op.f("ix_script_templates_campaign_id"), ["campaign_id"],
                              unique=False)
    with op.batch_alter_table("workflow_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_rules", schema=None) as batch_op:
        batch_op.drop_column("owner_id")
    # campaign scripts sharing a name with a global one would break the old constraint
    op.execute(sa.text("DELETE FROM script_templates WHERE campaign_id IS NOT NULL"))
    with op.batch_alter_table("script_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_script_templates_campaign_id"))
        batch_op.drop_constraint("uq_script_name_language_campaign", type_="unique")
        batch_op.create_unique_constraint("uq_script_name_language", ["name", "language"])
        batch_op.drop_column("owner_id")
        batch_op.drop_column("campaign_id")
