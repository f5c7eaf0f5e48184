"""The facts the access policy (:mod:`crm.domain.access`) decides on: whose campaigns and
which agents an object belongs to, read from the CRM's tables."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Call, Task
from crm.db.models_members import CampaignMember
from crm.db.models_ops import Campaign, Lead, User
from crm.domain.access import Reach
from crm.errors import NotFoundError


async def call_reach(s: AsyncSession, call_id: str) -> Reach:
    """A call's campaign manager and agent (an unknown call: managers only)."""
    found = (await s.execute(
        sa.select(col(Call.agent_id), col(Campaign.manager_id), col(Call.campaign_id))
        .outerjoin(Campaign, col(Campaign.id) == col(Call.campaign_id))
        .where(col(Call.call_id) == call_id))).first()
    if found is None:
        return Reach(shared=True)
    agent_id, manager_id, campaign_id = found
    return Reach.of([manager_id], [agent_id], campaign_less=campaign_id is None)


def _reach_query() -> sa.CompoundSelect:
    """The managers and agents of a customer's leads and calls, in one round trip."""
    customer = sa.bindparam("customer_id", type_=sa.Uuid())
    leads = (
        sa.select(col(Campaign.manager_id), col(Lead.agent_id))
        .join(Campaign, col(Campaign.id) == col(Lead.campaign_id))
        .where(col(Lead.customer_id) == customer))
    calls = (
        sa.select(col(Campaign.manager_id), col(Call.agent_id))
        .outerjoin(Campaign, col(Campaign.id) == col(Call.campaign_id))
        .where(col(Call.customer_id) == customer))
    return sa.union_all(leads, calls)


_REACH = _reach_query()  # built once: on the customer read, building it cost as much as running


async def customer_reach(s: AsyncSession, customer_id: uuid.UUID) -> Reach:
    """The managers of the campaigns of a customer's leads and calls, and their agents."""
    rows = (await s.execute(_REACH, {"customer_id": customer_id})).all()
    if not rows:  # never in a campaign, never called: created by hand, shared
        return Reach(shared=True, open=True)
    return Reach.of([m for m, _ in rows], [a for _, a in rows])


class AccessFacts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def call(self, call_id: str) -> Reach:
        async with self._sessions() as s:
            return await call_reach(s, call_id)

    async def customer(self, customer_id: uuid.UUID) -> Reach:
        async with self._sessions() as s:
            return await customer_reach(s, customer_id)

    async def task(self, task_id: uuid.UUID) -> tuple[uuid.UUID | None, Reach]:
        """The task's owner, and its customer's reach (no customer: managers)."""
        async with self._sessions() as s:
            task = await s.get(Task, task_id)
            if task is None:
                raise NotFoundError("task", task_id)
            if task.customer_id is None:
                return task.owner_id, Reach(shared=True)
            return task.owner_id, await customer_reach(s, task.customer_id)

    async def agent(self, user_id: uuid.UUID) -> Reach:
        """The managers of the campaigns an agent is a member of or has called in (neither
        yet: every manager, so that one can take them on)."""
        async with self._sessions() as s:
            called = (await s.scalars(
                sa.select(col(Campaign.manager_id)).distinct()
                .join(Call, col(Call.campaign_id) == col(Campaign.id))
                .where(col(Call.agent_id) == user_id))).all()
            member = (await s.scalars(
                sa.select(col(Campaign.manager_id)).distinct()
                .join(CampaignMember, col(CampaignMember.campaign_id) == col(Campaign.id))
                .where(col(CampaignMember.user_id) == user_id))).all()
        return Reach.of([*called, *member], [user_id])

    async def agent_named(self, username: str, *, missing_ok: bool = False) -> Reach:
        """:meth:`agent` by username (an unknown user: 404, or with ``missing_ok`` a reach
        shared by managers: there is nothing of theirs to see)."""
        async with self._sessions() as s:
            user_id = await s.scalar(sa.select(col(User.id)).where(col(User.username) == username))
        if user_id is None:
            if missing_ok:
                return Reach(shared=True)
            raise NotFoundError("agent", username)
        return await self.agent(user_id)

    async def lead(self, lead_id: uuid.UUID) -> Campaign:
        """The campaign a lead belongs to (404 for an unknown lead)."""
        async with self._sessions() as s:
            campaign = await s.scalar(
                sa.select(Campaign).join(Lead, col(Lead.campaign_id) == col(Campaign.id))
                .where(col(Lead.id) == lead_id))
        if campaign is None:
            raise NotFoundError("lead", lead_id)
        return campaign
