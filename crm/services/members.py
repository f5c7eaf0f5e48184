"""Who works where (issue 17 item 7): a campaign's members and the SIP extensions bound to each
user. The decisions (who may add a member, log in, use a phone) are
:mod:`crm.domain.access`'s; this service keeps the facts and audits every change."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_members import AgentExtension, CampaignMember
from crm.db.models_ops import Campaign, User
from crm.domain.enums import Role
from crm.errors import AlreadyExistsError, ConflictError, InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services.common import audit, transaction

MEMBER_ROLES = (Role.AGENT.value, Role.MANAGER.value)  # admins log into every campaign
DESK_ROLES = (*MEMBER_ROLES, Role.ADMIN.value)  # the users who sit at an agent desk
MAX_EXTENSIONS = 5  # desk phone, headset, softphone...: a few, not a range


class MemberService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    # --- campaign membership ------------------------------------------------------------
    async def in_campaign(self, campaign_id: uuid.UUID) -> list[dict[str, Any]]:
        """The campaign's members, by username, each with the extensions bound to them."""
        async with self._sessions() as s:
            rows = (await s.execute(
                sa.select(User, col(CampaignMember.added_at))
                .join(CampaignMember, col(CampaignMember.user_id) == col(User.id))
                .where(col(CampaignMember.campaign_id) == campaign_id)
                .order_by(col(User.username)))).all()
            bound = await _extensions(s, [u.id for u, _ in rows])
        return [{"user_id": str(u.id), "username": u.username, "display_name": u.display_name,
                 "role": u.role, "extensions": bound.get(u.id, []),
                 "added_at": added.isoformat()} for u, added in rows]

    async def add(self, campaign_id: uuid.UUID, username: str,
                  actor_id: uuid.UUID | None) -> dict[str, Any]:
        async with transaction(self._sessions) as s:
            await _campaign(s, campaign_id)
            user = await _desk_user(s, username, MEMBER_ROLES)
            if await s.get(CampaignMember, (campaign_id, user.id)) is not None:
                raise AlreadyExistsError("campaign member", "username", username)
            s.add(CampaignMember(campaign_id=campaign_id, user_id=user.id, added_by=actor_id,
                                 added_at=self._clock.now()))
            audit(s, actor_id, "campaign.member_added", "campaign", campaign_id,
                  {"user_id": str(user.id), "username": username})
        return next(m for m in await self.in_campaign(campaign_id) if m["username"] == username)

    async def remove(self, campaign_id: uuid.UUID, username: str,
                     actor_id: uuid.UUID | None) -> None:
        async with transaction(self._sessions) as s:
            await _campaign(s, campaign_id)
            user_id = await s.scalar(sa.select(col(User.id)).where(col(User.username) == username))
            row = None if user_id is None else await s.get(CampaignMember, (campaign_id, user_id))
            if row is None:
                raise NotFoundError("campaign member", username)
            await s.delete(row)
            audit(s, actor_id, "campaign.member_removed", "campaign", campaign_id,
                  {"user_id": str(user_id), "username": username})

    async def is_member(self, campaign_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        async with self._sessions() as s:
            return await s.get(CampaignMember, (campaign_id, user_id)) is not None

    async def campaigns_of(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        async with self._sessions() as s:
            return set((await s.scalars(sa.select(col(CampaignMember.campaign_id))
                                        .where(col(CampaignMember.user_id) == user_id))).all())

    # --- extension binding --------------------------------------------------------------
    async def desk_user(self, username: str) -> tuple[uuid.UUID, str]:
        """The id and role of a user who may sit at an agent desk (404 otherwise)."""
        async with self._sessions() as s:
            user = await _desk_user(s, username, DESK_ROLES, field=None)
        return user.id, user.role

    async def holder(self, extension: str) -> uuid.UUID | None:
        """The user the extension is bound to (None: nobody)."""
        async with self._sessions() as s:
            row = await s.get(AgentExtension, extension)
        return None if row is None else row.user_id

    async def extensions_of(self, user_id: uuid.UUID) -> list[str]:
        async with self._sessions() as s:
            return (await _extensions(s, [user_id])).get(user_id, [])

    async def bind(self, username: str, extensions: Sequence[str],
                   actor_id: uuid.UUID | None) -> dict[str, Any]:
        """Bind exactly ``extensions`` to the user (the ones left out are unbound); an
        extension bound to someone else is a 409 naming it (unbind it there first)."""
        wanted = sorted(set(extensions))
        if len(wanted) > MAX_EXTENSIONS:
            raise InvalidInputError("extensions", f"at most {MAX_EXTENSIONS} extensions")
        async with transaction(self._sessions) as s:
            user = await _desk_user(s, username, DESK_ROLES, field=None)
            taken = (await s.scalars(sa.select(AgentExtension).where(
                col(AgentExtension.extension).in_(wanted),
                col(AgentExtension.user_id) != user.id))).first()
            if taken is not None:
                raise ConflictError(f"extension {taken.extension} is bound to another user",
                                    details={"field": "extensions",
                                             "extension": taken.extension})
            before = (await _extensions(s, [user.id])).get(user.id, [])
            await s.execute(sa.delete(AgentExtension).where(
                col(AgentExtension.user_id) == user.id,
                col(AgentExtension.extension).not_in(wanted)))
            now = self._clock.now()
            for ext in set(wanted) - set(before):
                s.add(AgentExtension(extension=ext, user_id=user.id, bound_by=actor_id,
                                     bound_at=now))
            audit(s, actor_id, "agent.extensions_bound", "user", user.id,
                  {"before": before, "after": wanted})
        return {"username": username, "extensions": wanted}


async def _campaign(s: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    campaign = await s.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError("campaign", campaign_id)
    return campaign


async def _desk_user(s: AsyncSession, username: str, roles: Sequence[str],
                     field: str | None = "username") -> User:
    """A user of one of ``roles`` by username: unknown (or another role) is a 400 naming
    ``field`` when the name comes from the body, a 404 when it comes from the path."""
    user = await s.scalar(sa.select(User).where(col(User.username) == username))
    if user is not None and user.role in roles:
        return user
    if field is None:
        raise NotFoundError("agent", username)
    if user is None:
        raise InvalidInputError(field, f"no user named {username}")
    raise InvalidInputError(field, f"{username} is not an agent or a manager")


async def _extensions(s: AsyncSession, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    rows = (await s.execute(
        sa.select(col(AgentExtension.user_id), col(AgentExtension.extension))
        .where(col(AgentExtension.user_id).in_(list(user_ids)))
        .order_by(col(AgentExtension.extension)))).all()
    found: dict[uuid.UUID, list[str]] = {}
    for user_id, ext in rows:
        found.setdefault(user_id, []).append(ext)
    return found
