"""SQLModel tables of A/B experiments: the definition and every recorded assignment."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.db.models import _ts, _uuid_pk


class Experiment(SQLModel, table=True):
    """One experiment: ``unit`` (agent or lead) is split over ``variants`` by weight."""

    __tablename__ = "experiments"

    id: uuid.UUID = _uuid_pk()
    key: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    feature: str = Field(max_length=32, index=True)  # pop, script, pacing, other
    unit: str = Field(max_length=16)  # agent, lead
    # [{"name": "on", "weight": 1.0}, ...]; the first is the control
    variants: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    status: str = Field(default="running", max_length=16)  # running, stopped
    description: str | None = Field(default=None, max_length=2000)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _ts()
    started_at: datetime = _ts()
    stopped_at: datetime | None = _ts(nullable=True)


class ExperimentAssignment(SQLModel, table=True):
    """The variant a unit got (first time it was asked), kept for the report and audits."""

    __tablename__ = "experiment_assignments"
    __table_args__ = (
        sa.UniqueConstraint("experiment_id", "unit_id", name="uq_experiment_unit"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: uuid.UUID = Field(foreign_key="experiments.id", index=True)
    unit_id: str = Field(max_length=128)
    variant: str = Field(max_length=64)
    assigned_at: datetime = _ts()
