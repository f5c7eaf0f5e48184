"""Reference data: disposition codes and call-script templates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_ops import Disposition, ScriptTemplate
from crm.domain.enums import Language
from crm.errors import AlreadyExistsError, InvalidInputError
from crm.services.common import audit, transaction
from crm.services.customers import clean_tags

DEFAULT_DISPOSITIONS = (
    ("sale", "成交", "Sale", True, True),
    ("interested", "有意向", "Interested", False, False),
    ("callback", "预约回电", "Callback", False, False),
    ("not_interested", "不感兴趣", "Not interested", True, False),
    ("wrong_number", "号码错误", "Wrong number", True, False),
    ("do_not_call", "拒绝来电", "Do not call", True, False),
)


class ReferenceService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def seed_dispositions(self) -> int:
        async with transaction(self._sessions) as s:
            have = set(await s.scalars(sa.select(col(Disposition.code))))
            added = 0
            for code, zh, en, final, success in DEFAULT_DISPOSITIONS:
                if code not in have:
                    s.add(
                        Disposition(
                            code=code, label_zh=zh, label_en=en, is_final=final, is_success=success
                        )
                    )
                    added += 1
            return added

    async def dispositions(self) -> list[Disposition]:
        async with self._sessions() as s:
            return list(await s.scalars(sa.select(Disposition).order_by(col(Disposition.code))))

    async def add_disposition(
        self, d: Disposition, *, actor_id: uuid.UUID | None = None
    ) -> Disposition:
        if not d.code or len(d.code) > 64:
            raise InvalidInputError("code", "code must be 1..64 characters")
        async with transaction(self._sessions) as s:
            if await s.get(Disposition, d.code) is not None:
                raise AlreadyExistsError("disposition", "code", d.code)
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
        actor_id: uuid.UUID | None = None,
    ) -> ScriptTemplate:
        if not name.strip():
            raise InvalidInputError("name", "name is required")
        if not body.strip():
            raise InvalidInputError("body", "body is required")
        async with transaction(self._sessions) as s:
            if await s.scalar(
                sa.select(col(ScriptTemplate.id)).where(
                    col(ScriptTemplate.name) == name, col(ScriptTemplate.language) == language.value
                )
            ):
                raise AlreadyExistsError("script", "name", name)
            script = ScriptTemplate(
                name=name.strip(),
                body=body,
                language=language.value,
                tags=clean_tags(tags),
                priority=priority,
            )
            s.add(script)
            await s.flush()
            audit(s, actor_id, "script.created", "script", script.id)
            return script

    async def scripts(self, language: Language | None = None) -> list[ScriptTemplate]:
        stmt = sa.select(ScriptTemplate).where(col(ScriptTemplate.active).is_(True))
        if language is not None:
            stmt = stmt.where(col(ScriptTemplate.language) == language.value)
        async with self._sessions() as s:
            return list(await s.scalars(stmt.order_by(col(ScriptTemplate.name))))
