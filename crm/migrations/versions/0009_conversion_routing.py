"""Conversion routing (issue 5 item 4): customers' P(convert) and route, agents' seniority.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from crm.db.types import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_skills",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("seniority", AutoString(length=16), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "customer_routes",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("route", AutoString(length=16), nullable=False),
        sa.Column("model_route", AutoString(length=16), nullable=True),
        sa.Column("p_convert", sa.Float(), nullable=True),
        sa.Column("model_version", AutoString(length=80), nullable=True),
        sa.Column("reason", AutoString(length=300), nullable=False),
        sa.Column("override_route", AutoString(length=16), nullable=True),
        sa.Column("override_by", sa.Uuid(), nullable=True),
        sa.Column("override_reason", AutoString(length=300),
                  nullable=True),
        sa.Column("scored_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["override_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_customer_routes_route", "customer_routes", ["route"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customer_routes_route", table_name="customer_routes")
    op.drop_table("customer_routes")
    op.drop_table("agent_skills")
