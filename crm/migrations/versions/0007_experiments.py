"""A/B experiments: variants and assignments (issue 7).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from crm.db.types import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=False),
        sa.Column("feature", AutoString(length=32), nullable=False),
        sa.Column("unit", AutoString(length=16), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("description", AutoString(length=2000), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_experiments_feature", "experiments", ["feature"], unique=False)
    op.create_table(
        "experiment_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", AutoString(length=128), nullable=False),
        sa.Column("variant", AutoString(length=64), nullable=False),
        sa.Column("assigned_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("experiment_id", "unit_id", name="uq_experiment_unit"),
    )
    op.create_index("ix_experiment_assignments_experiment_id", "experiment_assignments",
                    ["experiment_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_experiment_assignments_experiment_id", table_name="experiment_assignments")
    op.drop_table("experiment_assignments")
    op.drop_index("ix_experiments_feature", table_name="experiments")
    op.drop_table("experiments")
