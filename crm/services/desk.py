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
from crm.db.models_ops import Campaign, Lead, User
from crm.domain.access import Principal, may_manage
from crm.domain.enums import LeadStatus, Role
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services.common import audit, transaction


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
    owner: str | None = None  # a personal callback's agent (username); None: the campaign's

    def as_json(self) -> dict[str, object]:
        return {
            "lead_id": str(self.lead_id), "customer_id": str(self.customer_id),
            "customer_name": self.customer_name, "phone": self.phone,
            "campaign_id": str(self.campaign_id), "campaign_name": self.campaign_name,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "agent_id": str(self.agent_id) if self.agent_id else None,
            "call_id": self.call_id, "overdue": self.overdue, "owner": self.owner,
            "scope": "personal" if self.owner else "campaign",
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
                        manager_id: uuid.UUID | None = None, limit: int = 50,
                        owner: str | None = None) -> list[Callback]:
        """Leads waiting for a callback, soonest first: those whose last call was ``agent_id``'s
        (None: anyone's), in campaigns ``manager_id`` manages (None: every campaign). With
        ``owner`` (the agent's username): their personal callbacks, and the campaign callbacks
        they set; not the personal callbacks given to someone else."""
        stmt = (
            sa.select(Lead, col(Customer.name), col(Campaign.name), col(Call.agent_id))
            .join(Customer, col(Customer.id) == col(Lead.customer_id))
            .join(Campaign, col(Campaign.id) == col(Lead.campaign_id))
            .outerjoin(Call, col(Call.call_id) == col(Lead.last_call_id))
            .where(sa.or_(col(Lead.status) == LeadStatus.CALLBACK.value, sa.and_(
                col(Lead.callback_owner).is_not(None),
                col(Lead.status) == LeadStatus.RETRY.value)))
            .order_by(col(Lead.next_attempt_at).asc().nulls_last(), col(Lead.id))
            .limit(limit)
        )
        if owner is not None:
            stmt = stmt.where(sa.or_(col(Lead.callback_owner) == owner, sa.and_(
                col(Lead.callback_owner).is_(None), col(Call.agent_id) == agent_id)))
        elif agent_id is not None:
            stmt = stmt.where(col(Call.agent_id) == agent_id)
        if manager_id is not None:
            stmt = stmt.where(col(Campaign.manager_id) == manager_id)
        now = self._clock.now()
        async with self._sessions() as s:
            rows = (await s.execute(stmt)).all()
        return [Callback(lead.id, lead.customer_id, customer, lead.phone_e164, lead.campaign_id,
                         campaign, lead.next_attempt_at, agent, lead.last_call_id,
                         lead.next_attempt_at is not None and lead.next_attempt_at <= now,
                         lead.callback_owner)
                for lead, customer, campaign, agent in rows]

    async def reassign_callback(self, who: Principal, lead_id: uuid.UUID,
                                owner: str | None) -> Callback:
        """A manager gives a waiting callback to another agent (``owner``, a username) or to
        the whole campaign (None); audited as callback.reassign."""
        async with transaction(self._sessions) as s:
            lead = await s.get(Lead, lead_id)
            if lead is None:
                raise NotFoundError("lead", lead_id)
            campaign = await s.get(Campaign, lead.campaign_id)
            assert campaign is not None
            may_manage(who, campaign)
            if owner is not None:
                if lead.status not in (LeadStatus.CALLBACK.value, LeadStatus.RETRY.value):
                    raise InvalidInputError("lead_id", "this lead is not waiting for a callback")
                agent = await s.scalar(sa.select(User).where(
                    col(User.username) == owner, col(User.active).is_(True)))
                if agent is None or agent.role != Role.AGENT.value:
                    raise InvalidInputError("owner", "no active agent has this username")
            before, lead.callback_owner = lead.callback_owner, owner
            lead.updated_at = self._clock.now()
            audit(s, who.user_id, "callback.reassign", "lead", lead.id,
                  {"from": before, "to": owner})
            customer = await s.get(Customer, lead.customer_id)
            now = self._clock.now()
            return Callback(lead.id, lead.customer_id, customer.name if customer else "",
                            lead.phone_e164, lead.campaign_id, campaign.name,
                            lead.next_attempt_at, None, lead.last_call_id,
                            lead.next_attempt_at is not None and lead.next_attempt_at <= now,
                            owner)
