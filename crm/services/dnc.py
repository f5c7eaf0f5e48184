"""Do-not-call entries, global (scope ``*``) or per campaign."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_ops import GLOBAL_SCOPE, Campaign, DncEntry, Lead
from crm.domain.enums import LeadStatus
from crm.domain.phones import normalise_number
from crm.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from crm.services.common import Page, audit, paginate, transaction


def scope_of(campaign_id: uuid.UUID | None) -> str:
    return GLOBAL_SCOPE if campaign_id is None else str(campaign_id)


def dnc_clause(
    e164_column: sa.ColumnElement[str] | Any, campaign_column: sa.ColumnElement[uuid.UUID] | Any
) -> sa.ColumnElement[bool]:
    """SQL: "this number is on the global list or on this campaign's list"."""
    return sa.exists().where(
        col(DncEntry.e164) == e164_column,
        sa.or_(col(DncEntry.scope) == GLOBAL_SCOPE, col(DncEntry.campaign_id) == campaign_column),
    )


class DncService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], default_region: str) -> None:
        self._sessions = sessions
        self._region = default_region

    async def add(
        self,
        raw_number: str,
        *,
        campaign_id: uuid.UUID | None = None,
        reason: str | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> DncEntry:
        """List a number; its open leads (in scope) are closed as ``dnc`` in the same step."""
        number = normalise_number(raw_number, self._region, field="number")
        async with transaction(self._sessions) as s:
            if campaign_id is not None and await s.get(Campaign, campaign_id) is None:
                raise InvalidInputError("campaign_id", "no such campaign")
            scope = scope_of(campaign_id)
            if await s.scalar(
                sa.select(col(DncEntry.id)).where(
                    col(DncEntry.e164) == number.e164, col(DncEntry.scope) == scope
                )
            ):
                raise AlreadyExistsError("dnc entry", "number", number.e164)
            entry = DncEntry(
                e164=number.e164,
                campaign_id=campaign_id,
                scope=scope,
                reason=reason,
                created_by=actor_id,
            )
            s.add(entry)
            leads = sa.update(Lead).where(
                col(Lead.phone_e164) == number.e164,
                col(Lead.status).in_([st.value for st in LeadStatus if st.dialable]),
            )
            if campaign_id is not None:
                leads = leads.where(col(Lead.campaign_id) == campaign_id)
            await s.execute(leads.values(status=LeadStatus.DNC.value))
            await s.flush()
            audit(s, actor_id, "dnc.added", "dnc", number.e164, {"scope": scope})
            return entry

    async def remove(self, entry_id: uuid.UUID, *, actor_id: uuid.UUID | None = None) -> None:
        async with transaction(self._sessions) as s:
            entry = await s.get(DncEntry, entry_id)
            if entry is None:
                raise NotFoundError("dnc entry", entry_id)
            await s.delete(entry)
            audit(s, actor_id, "dnc.removed", "dnc", entry.e164, {"scope": entry.scope})

    async def is_dnc(self, raw_number: str, campaign_id: uuid.UUID | None = None) -> bool:
        number = normalise_number(raw_number, self._region, field="number")
        scopes = [GLOBAL_SCOPE] + ([str(campaign_id)] if campaign_id else [])
        async with self._sessions() as s:
            found = await s.scalar(
                sa.select(col(DncEntry.id)).where(
                    col(DncEntry.e164) == number.e164, col(DncEntry.scope).in_(scopes)
                )
            )
            return found is not None

    async def list(
        self,
        *,
        campaign_id: uuid.UUID | None = None,
        number: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[DncEntry]:
        stmt = sa.select(DncEntry)
        if campaign_id is not None:
            stmt = stmt.where(col(DncEntry.campaign_id) == campaign_id)
        if number:
            stmt = stmt.where(
                col(DncEntry.e164) == normalise_number(number, self._region, field="number").e164
            )
        stmt = stmt.order_by(col(DncEntry.created_at).desc(), col(DncEntry.id))
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)
