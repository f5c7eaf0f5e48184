"""Agents' seniority (``agent_skills``): senior agents get the high-propensity leads first."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_conversion import AgentSkill
from crm.db.models_ops import User
from crm.domain.enums import Role
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services.common import audit, transaction

SENIORITIES = ("senior", "standard")


class AgentSkillService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def seniority(self, username: str) -> str:
        """``senior`` or ``standard`` (the default for an agent never set)."""
        async with self._sessions() as s:
            value = await s.scalar(
                sa.select(col(AgentSkill.seniority))
                .join(User, col(User.id) == col(AgentSkill.user_id))
                .where(col(User.username) == username))
        return value or "standard"

    async def set(self, username: str, seniority: str, actor_id: uuid.UUID | None
                  ) -> dict[str, Any]:
        if seniority not in SENIORITIES:
            raise InvalidInputError("seniority", f"must be one of {', '.join(SENIORITIES)}")
        async with transaction(self._sessions) as s:
            user = await s.scalar(sa.select(User).where(col(User.username) == username))
            if user is None or user.role not in (Role.AGENT.value, Role.MANAGER.value):
                raise NotFoundError("agent", username)
            row = await s.get(AgentSkill, user.id)
            before = row.seniority if row else "standard"
            if row is None:
                row = AgentSkill(user_id=user.id)
                s.add(row)
            row.seniority, row.updated_at = seniority, self._clock.now()
            audit(s, actor_id, "agent.seniority_changed", "user", user.id,
                  {"before": before, "after": seniority})
        return {"username": username, "seniority": seniority}

    async def list(self) -> list[dict[str, Any]]:
        async with self._sessions() as s:
            rows = (await s.execute(
                sa.select(col(User.username), col(User.role), col(AgentSkill.seniority))
                .outerjoin(AgentSkill, col(AgentSkill.user_id) == col(User.id))
                .where(col(User.role).in_([Role.AGENT.value, Role.MANAGER.value]))
                .order_by(col(User.username)))).all()
        return [{"username": u, "role": r, "seniority": sen or "standard"} for u, r, sen in rows]
