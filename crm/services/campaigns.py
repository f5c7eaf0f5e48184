"""Campaigns and their leads (CRUD; the hopper operations live in :mod:`crm.db.leads`)."""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_ops import Campaign, Lead, User
from crm.domain.enums import CampaignStatus, LeadStatus, Role
from crm.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services.common import Page, audit, paginate, reject_nulls, transaction

_CAMPAIGN_FIELDS = (
    "name",
    "manager_id",
    "status",
    "timezone",
    "window_start",
    "window_end",
    "max_attempts",
    "retry_no_answer_minutes",
    "retry_busy_minutes",
    "retry_failed_minutes",
    "retry_machine_minutes",
    "retry_abandoned_minutes",
    "max_retries_no_answer",
    "max_retries_busy",
    "max_retries_machine",
    "max_retries_abandoned",
    "max_retries_failed",
)
_DELAY_FIELDS = tuple(f for f in _CAMPAIGN_FIELDS if f.startswith("retry_"))
_MAX_RETRY_FIELDS = tuple(f for f in _CAMPAIGN_FIELDS if f.startswith("max_retries_"))
MAX_DELAY_MINUTES = 100_000
MAX_RETRIES = 100
_LEAD_FIELDS = ("priority", "agent_id", "status", "next_attempt_at", "timezone")


@dataclass(frozen=True)
class Changes:
    """A partial update: only ``values`` keys are touched."""

    values: dict[str, Any] = field(default_factory=dict)


def _check_campaign_values(values: dict[str, Any]) -> None:
    reject_nulls(values, {"manager_id", "timezone"})
    for key in ("window_start", "window_end"):
        if key in values:
            try:
                time.fromisoformat(values[key])
            except (TypeError, ValueError):
                raise InvalidInputError(key, "expected HH:MM") from None
    if values.get("timezone"):
        try:
            zoneinfo.ZoneInfo(values["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError("timezone", "unknown time zone") from None
    if "status" in values:
        values["status"] = CampaignStatus(values["status"]).value
    _check_int(values, ("max_attempts",), 1, 100)
    _check_int(values, _DELAY_FIELDS, 1, MAX_DELAY_MINUTES)
    _check_int(values, _MAX_RETRY_FIELDS, 0, MAX_RETRIES)
    if "name" in values and not str(values["name"]).strip():
        raise InvalidInputError("name", "name is required")


def _check_int(values: dict[str, Any], keys: tuple[str, ...], low: int, high: int) -> None:
    for key in keys:
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInputError(key, f"must be an integer {low}..{high}")


async def _check_manager(s: AsyncSession, manager_id: uuid.UUID | None) -> None:
    if manager_id is None:
        return
    user = await s.get(User, manager_id)
    if user is None or user.role not in (Role.MANAGER.value, Role.ADMIN.value):
        raise InvalidInputError("manager_id", "manager_id must name a manager or admin")


class CampaignService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(
        self, values: dict[str, Any], *, actor_id: uuid.UUID | None = None
    ) -> Campaign:
        unknown = set(values) - set(_CAMPAIGN_FIELDS)
        if unknown:
            raise InvalidInputError(sorted(unknown)[0], "unknown field")
        if "name" not in values:
            raise InvalidInputError("name", "name is required")
        _check_campaign_values(values)
        async with transaction(self._sessions) as s:
            if await s.scalar(
                sa.select(col(Campaign.id)).where(col(Campaign.name) == values["name"])
            ):
                raise AlreadyExistsError("campaign", "name", values["name"])
            await _check_manager(s, values.get("manager_id"))
            campaign = Campaign(**values)
            s.add(campaign)
            await s.flush()
            audit(s, actor_id, "campaign.created", "campaign", campaign.id)
            return campaign

    async def update(
        self, campaign_id: uuid.UUID, values: dict[str, Any], *, actor_id: uuid.UUID | None = None
    ) -> Campaign:
        _check_campaign_values(values)
        async with transaction(self._sessions) as s:
            campaign = await self._get(s, campaign_id)
            if "manager_id" in values:
                await _check_manager(s, values["manager_id"])
            for key, value in values.items():
                if key not in _CAMPAIGN_FIELDS:
                    raise InvalidInputError(key, "unknown field")
                setattr(campaign, key, value)
            audit(
                s, actor_id, "campaign.updated", "campaign", campaign.id, {"fields": sorted(values)}
            )
            return campaign

    @staticmethod
    async def _get(s: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
        campaign = await s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFoundError("campaign", campaign_id)
        return campaign

    async def get(self, campaign_id: uuid.UUID) -> Campaign:
        async with self._sessions() as s:
            return await self._get(s, campaign_id)

    async def list(
        self,
        *,
        manager_id: uuid.UUID | None = None,
        status: CampaignStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Campaign]:
        stmt = sa.select(Campaign)
        if manager_id is not None:
            stmt = stmt.where(col(Campaign.manager_id) == manager_id)
        if status is not None:
            stmt = stmt.where(col(Campaign.status) == status.value)
        async with self._sessions() as s:
            return await paginate(
                s, stmt.order_by(col(Campaign.name), col(Campaign.id)), limit, offset
            )

    async def get_lead(self, lead_id: uuid.UUID) -> Lead:
        async with self._sessions() as s:
            lead = await s.get(Lead, lead_id)
            if lead is None:
                raise NotFoundError("lead", lead_id)
            return lead

    async def list_leads(
        self,
        *,
        campaign_id: uuid.UUID | None = None,
        agent_id: uuid.UUID | None = None,
        manager_id: uuid.UUID | None = None,
        status: LeadStatus | None = None,
        customer_id: uuid.UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Lead]:
        stmt = sa.select(Lead)
        if campaign_id is not None:
            stmt = stmt.where(col(Lead.campaign_id) == campaign_id)
        if agent_id is not None:
            stmt = stmt.where(col(Lead.agent_id) == agent_id)
        if manager_id is not None:
            mine = sa.select(col(Campaign.id)).where(col(Campaign.manager_id) == manager_id)
            stmt = stmt.where(col(Lead.campaign_id).in_(mine))
        if status is not None:
            stmt = stmt.where(col(Lead.status) == status.value)
        if customer_id is not None:
            stmt = stmt.where(col(Lead.customer_id) == customer_id)
        stmt = stmt.order_by(col(Lead.priority).desc(), col(Lead.created_at), col(Lead.id))
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)

    async def update_lead(
        self, lead_id: uuid.UUID, values: dict[str, Any], *, actor_id: uuid.UUID | None = None
    ) -> Lead:
        async with transaction(self._sessions) as s:
            lead = await s.get(Lead, lead_id)
            if lead is None:
                raise NotFoundError("lead", lead_id)
            for key, value in values.items():
                if key not in _LEAD_FIELDS:
                    raise InvalidInputError(key, "unknown field")
                reject_nulls({key: value}, {"agent_id", "next_attempt_at", "timezone"})
                if key == "agent_id" and value is not None and await s.get(User, value) is None:
                    raise InvalidInputError("agent_id", "no such user")
                if key == "status":
                    value = LeadStatus(value).value
                    if LeadStatus(value).dialable and value != lead.status:
                        # a reopened lead starts its per-outcome retry counts afresh
                        lead.outcome_counts, lead.close_reason = {}, None
                setattr(lead, key, value)
            lead.updated_at = self._clock.now()
            audit(s, actor_id, "lead.updated", "lead", lead.id, {"fields": sorted(values)})
            return lead
