"""The agent desk's reads (issue 13 item 9): the customers' names beside the agent's tasks, and
the callbacks an agent set (leads waiting for their callback time, last called by them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Call, Customer
from crm.db.models_ops import Campaign, Lead
from crm.domain.enums import LeadStatus
from crm.ports import Clock


@dataclass(frozen=True, slots=True)
class Callback:
    lead_id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str
    phone: str
    campaign_id: uuid.UUID
    campaign_name: str
    due_at: datetime | None
    agent_id: uuid.UUID | None
    call_id: str | None
    overdue: bool

    def as_json(self) -> dict[str, object]:
        return {
            "lead_id": str(self.lead_id), "customer_id": str(self.customer_id),
            "customer_name": self.customer_name, "phone": self.phone,
            "campaign_id": str(self.campaign_id), "campaign_name": self.campaign_name,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "agent_id": str(self.agent_id) if self.agent_id else None,
            "call_id": self.call_id, "overdue": self.overdue,
        }


class DeskService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def customer_names(self, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        async with self._sessions() as s:
            rows = await s.execute(sa.select(col(Customer.id), col(Customer.name))
                                   .where(col(Customer.id).in_(wanted)))
            return {cid: name for cid, name in rows.all()}

    async def callbacks(self, *, agent_id: uuid.UUID | None = None,
                        manager_id: uuid.UUID | None = None, limit: int = 50) -> list[Callback]:
        """Leads waiting for a callback, soonest first: those whose last call was ``agent_id``'s
        (None: anyone's), in campaigns ``manager_id`` manages (None: every campaign)."""
        stmt = (
            sa.select(Lead, col(Customer.name), col(Campaign.name), col(Call.agent_id))
            .join(Customer, col(Customer.id) == col(Lead.customer_id))
            .join(Campaign, col(Campaign.id) == col(Lead.campaign_id))
            .outerjoin(Call, col(Call.call_id) == col(Lead.last_call_id))
            .where(col(Lead.status) == LeadStatus.CALLBACK.value)
            .order_by(col(Lead.next_attempt_at).asc().nulls_last(), col(Lead.id))
            .limit(limit)
        )
        if agent_id is not None:
            stmt = stmt.where(col(Call.agent_id) == agent_id)
        if manager_id is not None:
            stmt = stmt.where(col(Campaign.manager_id) == manager_id)
        now = self._clock.now()
        async with self._sessions() as s:
            rows = (await s.execute(stmt)).all()
        return [Callback(lead.id, lead.customer_id, customer, lead.phone_e164, lead.campaign_id,
                         campaign, lead.next_attempt_at, agent, lead.last_call_id,
                         lead.next_attempt_at is not None and lead.next_attempt_at <= now)
                for lead, customer, campaign, agent in rows]
