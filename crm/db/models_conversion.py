"""SQLModel tables of the conversion routing (issue 5 item 4): each customer's modelled
P(convert) and route, a manager's override, and the agents' seniority."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.db.models import _ts


class AgentSkill(SQLModel, table=True):
    """An agent's seniority: ``senior`` agents are offered ``senior``-route leads first."""

    __tablename__ = "agent_skills"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True)
    seniority: str = Field(default="standard", max_length=16)
    updated_at: datetime = _ts()


class CustomerRoute(SQLModel, table=True):
    """The conversion model's verdict on one customer (rescored periodically) and, when a
    manager overrode it, the override. ``route`` is the one the dialer and the hopper obey."""

    __tablename__ = "customer_routes"
    __table_args__ = (sa.Index("ix_customer_routes_route", "route"),)

    customer_id: uuid.UUID = Field(foreign_key="customers.id", primary_key=True)
    route: str = Field(max_length=16)  # effective: the override when set, else the model's
    model_route: str | None = Field(default=None, max_length=16)
    p_convert: float | None = None
    model_version: str | None = Field(default=None, max_length=80)
    reason: str = Field(default="", max_length=300)
    override_route: str | None = Field(default=None, max_length=16)
    override_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    override_reason: str | None = Field(default=None, max_length=300)
    scored_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()
