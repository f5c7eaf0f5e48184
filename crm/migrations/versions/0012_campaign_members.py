"""Campaign membership and extension binding (issue 17 item 7): ``campaign_members`` (who may
log into a campaign's dialing) and ``agent_extensions`` (the SIP extensions bound to a user).

Existing data: an agent (or manager) who has taken calls of a campaign becomes its member
(what they already did, made explicit, audited as added by nobody); nobody else. No extension is
bound: the CRM never knew agents' phones, and guessing one (``agent1001`` -> 1001) would hand a
phone to whoever has that name. After the upgrade an agent logs in once a manager (or an admin)
has bound their extension in the console; a campaign without members is closed to agents: there
is no "open when empty".

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from crm.db.types import UtcDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["added_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "user_id"),
    )
    op.create_index("ix_campaign_members_user_id", "campaign_members", ["user_id"], unique=False)
    op.create_table(
        "agent_extensions",
        sa.Column("extension", AutoString(length=8), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("bound_by", sa.Uuid(), nullable=True),
        sa.Column("bound_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["bound_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("extension"),
    )
    op.create_index("ix_agent_extensions_user_id", "agent_extensions", ["user_id"], unique=False)
    _members_from_calls()


def _members_from_calls() -> None:
    """Agents and managers who took calls of a campaign become its members."""
    calls = sa.table("calls", sa.column("campaign_id", sa.Uuid()), sa.column("agent_id", sa.Uuid()))
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("role", sa.String()))
    members = sa.table("campaign_members", sa.column("campaign_id", sa.Uuid()),
                       sa.column("user_id", sa.Uuid()),
                       sa.column("added_at", UtcDateTime(timezone=True)))
    worked = (
        sa.select(calls.c.campaign_id, calls.c.agent_id).distinct()
        .join(users, users.c.id == calls.c.agent_id)
        .where(calls.c.campaign_id.is_not(None), users.c.role.in_(("agent", "manager")))
    )
    now = datetime.now(UTC)
    rows = op.get_bind().execute(worked).all()
    if rows:
        op.bulk_insert(members, [{"campaign_id": c, "user_id": u, "added_at": now}
                                 for c, u in rows])


def downgrade() -> None:
    op.drop_index("ix_agent_extensions_user_id", table_name="agent_extensions")
    op.drop_table("agent_extensions")
    op.drop_index("ix_campaign_members_user_id", table_name="campaign_members")
    op.drop_table("campaign_members")
