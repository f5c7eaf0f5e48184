"""Reference data: disposition codes and call-script templates."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_members import CampaignMember
from crm.db.models_ops import Campaign, Disposition, ScriptTemplate
from crm.domain.enums import DispositionCategory, Language
from crm.domain.script_fields import FIELDS, unknown_fields
from crm.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from crm.services.common import audit, transaction
from crm.services.customers import clean_tags

DEFAULT_DISPOSITIONS = (  # code, zh, en, final, success, category, key
    ("sale", "成交", "Sale", True, True, DispositionCategory.SUCCESS, "1"),
    ("interested", "有意向", "Interested", False, False, DispositionCategory.CONTACT, "2"),
    ("callback", "预约回电", "Callback", False, False, DispositionCategory.CALLBACK, "3"),
    ("not_interested", "不感兴趣", "Not interested", True, False, DispositionCategory.CONTACT,
     "4"),
    ("wrong_number", "号码错误", "Wrong number", True, False, DispositionCategory.NO_CONTACT,
     "5"),
    ("do_not_call", "拒绝来电", "Do not call", True, False, DispositionCategory.DNC, "6"),
)
SHORTCUTS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")


class ReferenceService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def seed_dispositions(self) -> int:
        async with transaction(self._sessions) as s:
            have = set(await s.scalars(sa.select(col(Disposition.code))))
            added = 0
            for order, (code, zh, en, final, success, category, key) in enumerate(
                    DEFAULT_DISPOSITIONS, start=1):
                if code not in have:
                    s.add(Disposition(code=code, label_zh=zh, label_en=en, is_final=final,
                                      is_success=success, category=category.value,
                                      shortcut=key, sort_order=order * 10))
                    added += 1
            return added

    async def dispositions(self, campaign_id: uuid.UUID | None = None, *,
                           every: bool = False) -> list[Disposition]:
        """The codes of ``campaign_id``'s wrap-up: every campaign's and its own, active, in
        their order (None: every campaign's only; ``every``: all codes, by code)."""
        stmt = sa.select(Disposition)
        if every:
            stmt = stmt.order_by(col(Disposition.code))
        else:
            scope: sa.ColumnElement[bool] = col(Disposition.campaign_id).is_(None)
            if campaign_id is not None:
                scope = sa.or_(scope, col(Disposition.campaign_id) == campaign_id)
            stmt = stmt.where(scope, col(Disposition.active).is_(True)).order_by(
                col(Disposition.sort_order), col(Disposition.code))
        async with self._sessions() as s:
            return list(await s.scalars(stmt))

    async def add_disposition(
        self, d: Disposition, *, actor_id: uuid.UUID | None = None
    ) -> Disposition:
        if not d.code or len(d.code) > 64:
            raise InvalidInputError("code", "code must be 1..64 characters")
        if d.category not in set(DispositionCategory):
            raise InvalidInputError("category", "must be one of "
                                    + ", ".join(c.value for c in DispositionCategory))
        if d.shortcut is not None and d.shortcut not in SHORTCUTS:
            raise InvalidInputError("shortcut", "a shortcut is one digit or lower-case letter")
        async with transaction(self._sessions) as s:
            if await s.get(Disposition, d.code) is not None:
                raise AlreadyExistsError("disposition", "code", d.code)
            if d.shortcut is not None:
                scope: sa.ColumnElement[bool] = col(Disposition.campaign_id).is_(None)
                if d.campaign_id is not None:
                    scope = sa.or_(scope, col(Disposition.campaign_id) == d.campaign_id)
                taken = await s.scalar(sa.select(col(Disposition.code)).where(
                    scope, col(Disposition.shortcut) == d.shortcut,
                    col(Disposition.active).is_(True)))
                if taken is not None:
                    raise AlreadyExistsError("disposition", "shortcut", d.shortcut)
            s.add(d)
            audit(s, actor_id, "disposition.created", "disposition", d.code)
            return d

    async def add_script(
        self,
        *,
        name: str,
        body: str,
        language: Language,
        tags: Sequence[str] = (),
        priority: int = 0,
        campaign_id: uuid.UUID | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> ScriptTemplate:
        """A script of ``campaign_id``'s pops (None: every campaign's), owned by ``actor_id``."""
        if not name.strip():
            raise InvalidInputError("name", "name is required")
        if not body.strip():
            raise InvalidInputError("body", "body is required")
        _check_fields(body)
        async with transaction(self._sessions) as s:
            await _name_free(s, name.strip(), language.value, campaign_id)
            script = ScriptTemplate(
                name=name.strip(),
                body=body,
                language=language.value,
                tags=clean_tags(tags),
                priority=priority,
                campaign_id=campaign_id,
                owner_id=actor_id,
            )
            s.add(script)
            await s.flush()
            audit(s, actor_id, "script.created", "script", script.id,
                  {"campaign_id": str(campaign_id) if campaign_id else None})
            return script

    async def script(self, script_id: uuid.UUID) -> ScriptTemplate:
        async with self._sessions() as s:
            script = await s.get(ScriptTemplate, script_id)
        if script is None:
            raise NotFoundError("script", script_id)
        return script

    async def update_script(self, script_id: uuid.UUID, changes: Mapping[str, Any], *,
                            actor_id: uuid.UUID | None = None) -> ScriptTemplate:
        """Change a script's name, body, language, tags, priority or ``active`` (None: keep)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "name" in changes and not str(changes["name"]).strip():
            raise InvalidInputError("name", "name is required")
        if "body" in changes and not str(changes["body"]).strip():
            raise InvalidInputError("body", "body is required")
        if "body" in changes:
            _check_fields(str(changes["body"]))
        async with transaction(self._sessions) as s:
            script = await s.get(ScriptTemplate, script_id)
            if script is None:
                raise NotFoundError("script", script_id)
            if "name" in changes:
                script.name = str(changes["name"]).strip()
            if "language" in changes:
                script.language = Language(changes["language"]).value
            if "name" in changes or "language" in changes:
                await _name_free(s, script.name, script.language, script.campaign_id,
                                 but=script.id)
            if "body" in changes:
                script.body = str(changes["body"])
            if "tags" in changes:
                script.tags = clean_tags(changes["tags"])
            for key in ("priority", "active"):
                if key in changes:
                    setattr(script, key, changes[key])
            audit(s, actor_id, "script.updated", "script", script.id, {"fields": sorted(changes)})
            return script

    async def delete_script(self, script_id: uuid.UUID, *,
                            actor_id: uuid.UUID | None = None) -> None:
        async with transaction(self._sessions) as s:
            script = await s.get(ScriptTemplate, script_id)
            if script is None:
                raise NotFoundError("script", script_id)
            await s.delete(script)
            audit(s, actor_id, "script.deleted", "script", script_id, {"name": script.name})

    async def scripts(self, language: Language | None = None, *,
                      manager_id: uuid.UUID | None = None,
                      member_id: uuid.UUID | None = None) -> list[ScriptTemplate]:
        """The active scripts; with ``manager_id``, every campaign's and those of the campaigns
        that manager manages (or nobody does) or that they own; with ``member_id`` (an agent),
        every campaign's and those of the campaigns they are a member of."""
        stmt = sa.select(ScriptTemplate).where(col(ScriptTemplate.active).is_(True))
        common = col(ScriptTemplate.campaign_id).is_(None)
        if manager_id is not None:
            managed = sa.select(col(Campaign.id)).where(sa.or_(
                col(Campaign.manager_id) == manager_id, col(Campaign.manager_id).is_(None)))
            stmt = stmt.where(sa.or_(common, col(ScriptTemplate.campaign_id).in_(managed),
                                     col(ScriptTemplate.owner_id) == manager_id))
        if member_id is not None:
            joined = sa.select(col(CampaignMember.campaign_id)).where(
                col(CampaignMember.user_id) == member_id)
            stmt = stmt.where(sa.or_(common, col(ScriptTemplate.campaign_id).in_(joined)))
        if language is not None:
            stmt = stmt.where(col(ScriptTemplate.language) == language.value)
        async with self._sessions() as s:
            return list(await s.scalars(stmt.order_by(col(ScriptTemplate.name))))


def scripts_of(campaign_id: uuid.UUID | None) -> sa.ColumnElement[bool]:
    """The scripts a pop of ``campaign_id`` may show: every campaign's and that campaign's
    (no campaign: every campaign's only)."""
    common = col(ScriptTemplate.campaign_id).is_(None)
    if campaign_id is None:
        return common
    return sa.or_(common, col(ScriptTemplate.campaign_id) == campaign_id)


async def _name_free(s: AsyncSession, name: str, language: str, campaign_id: uuid.UUID | None,
                     but: uuid.UUID | None = None) -> None:
    """A script's name is unique per language within its campaign (or among global ones)."""
    same_campaign = (col(ScriptTemplate.campaign_id).is_(None) if campaign_id is None
                     else col(ScriptTemplate.campaign_id) == campaign_id)
    stmt = sa.select(col(ScriptTemplate.id)).where(
        col(ScriptTemplate.name) == name, col(ScriptTemplate.language) == language,
        same_campaign)
    if but is not None:
        stmt = stmt.where(col(ScriptTemplate.id) != but)
    if await s.scalar(stmt) is not None:
        raise AlreadyExistsError("script", "name", name)


def _check_fields(body: str) -> None:
    """A script names only the fields a pop can fill in (crm.domain.script_fields)."""
    unknown = unknown_fields(body)
    if unknown:
        raise InvalidInputError(
            "body", "unknown field {{" + unknown[0] + "}}; allowed: " + ", ".join(FIELDS),
            unknown=unknown)
