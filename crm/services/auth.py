"""Users, API tokens and login sessions."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_ops import ApiToken, User, UserSession
from crm.domain.access import Principal
from crm.domain.enums import Role
from crm.errors import AlreadyExistsError, AuthenticationError, InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.security import hash_password, hash_token, new_token, verify_password
from crm.services.common import Page, audit, paginate, transaction

MIN_PASSWORD = 8


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; only its hash is stored
    token_id: uuid.UUID
    user_id: uuid.UUID


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=Role(user.role))


def _check_password(password: str | None) -> None:
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidInputError("password", f"password needs at least {MIN_PASSWORD} characters")


class AuthService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        scrypt_n: int,
        session_ttl: timedelta,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._n = scrypt_n
        self._ttl = session_ttl

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(hash_password, password, n=self._n)

    async def create_user(
        self,
        username: str,
        role: Role,
        *,
        password: str | None = None,
        display_name: str | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> User:
        name = (username or "").strip()
        if not name or len(name) > 64:
            raise InvalidInputError("username", "username must be 1..64 characters")
        _check_password(password)
        hashed = await self._hash(password) if password else None
        async with transaction(self._sessions) as s:
            if await s.scalar(sa.select(col(User.id)).where(col(User.username) == name)):
                raise AlreadyExistsError("user", "username", name)
            user = User(
                username=name,
                display_name=display_name or name,
                role=role.value,
                password_hash=hashed,
            )
            s.add(user)
            await s.flush()
            audit(s, actor_id, "user.created", "user", user.id, {"role": role.value})
            return user

    async def update_user(
        self,
        user_id: uuid.UUID,
        *,
        display_name: str | None = None,
        role: Role | None = None,
        password: str | None = None,
        active: bool | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> User:
        _check_password(password)
        hashed = await self._hash(password) if password else None
        async with transaction(self._sessions) as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFoundError("user", user_id)
            user.display_name = display_name or user.display_name
            user.role = role.value if role else user.role
            user.password_hash = hashed or user.password_hash
            user.active = user.active if active is None else active
            if active is False or hashed:
                await s.execute(sa.delete(UserSession).where(col(UserSession.user_id) == user.id))
            audit(
                s,
                actor_id,
                "user.updated",
                "user",
                user.id,
                {"role": user.role, "active": user.active, "password_changed": bool(hashed)},
            )
            return user

    async def get_user(self, user_id: uuid.UUID) -> User:
        async with self._sessions() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFoundError("user", user_id)
            return user

    async def list_users(
        self, *, role: Role | None = None, limit: int = 50, offset: int = 0
    ) -> Page[User]:
        stmt = sa.select(User)
        if role is not None:
            stmt = stmt.where(col(User.role) == role.value)
        async with self._sessions() as s:
            return await paginate(s, stmt.order_by(col(User.username)), limit, offset)

    async def issue_token(
        self, user_id: uuid.UUID, name: str = "api", *, actor_id: uuid.UUID | None = None
    ) -> IssuedToken:
        token = new_token()
        async with transaction(self._sessions) as s:
            if await s.get(User, user_id) is None:
                raise NotFoundError("user", user_id)
            row = ApiToken(user_id=user_id, name=name[:100] or "api", token_hash=hash_token(token))
            s.add(row)
            await s.flush()
            audit(s, actor_id, "token.issued", "user", user_id, {"token_id": str(row.id)})
            return IssuedToken(token=token, token_id=row.id, user_id=user_id)

    async def revoke_token(self, token_id: uuid.UUID, *, actor_id: uuid.UUID | None = None) -> None:
        async with transaction(self._sessions) as s:
            row = await s.get(ApiToken, token_id)
            if row is None:
                raise NotFoundError("token", token_id)
            row.revoked_at = self._clock.now()
            audit(s, actor_id, "token.revoked", "user", row.user_id, {"token_id": str(row.id)})

    async def principal_for_token(self, token: str) -> Principal:
        async with self._sessions() as s:
            row = await s.execute(
                sa.select(User)
                .join(ApiToken, col(ApiToken.user_id) == col(User.id))
                .where(
                    col(ApiToken.token_hash) == hash_token(token),
                    col(ApiToken.revoked_at).is_(None),
                    col(User.active).is_(True),
                )
            )
            user = row.scalar_one_or_none()
        if user is None:
            raise AuthenticationError("invalid or revoked token")
        return _principal(user)

    async def login(self, username: str, password: str) -> tuple[str, Principal]:
        """Check the password; returns a new session id (for the cookie) and the principal."""
        async with self._sessions() as s:
            user = await s.scalar(sa.select(User).where(col(User.username) == username))
        stored = user.password_hash if user and user.active else None
        ok = await asyncio.to_thread(verify_password, password, stored)
        if user is None or not ok:
            raise AuthenticationError("wrong username or password")
        session_id = new_token()
        now = self._clock.now()
        async with transaction(self._sessions) as s:
            s.add(
                UserSession(
                    token_hash=hash_token(session_id),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + self._ttl,
                )
            )
            await s.execute(sa.delete(UserSession).where(col(UserSession.expires_at) < now))
            audit(s, user.id, "user.login", "user", user.id)
        return session_id, _principal(user)

    async def principal_for_session(self, session_id: str) -> Principal:
        async with self._sessions() as s:
            row = await s.execute(
                sa.select(User)
                .join(UserSession, col(UserSession.user_id) == col(User.id))
                .where(
                    col(UserSession.token_hash) == hash_token(session_id),
                    col(UserSession.expires_at) > self._clock.now(),
                    col(User.active).is_(True),
                )
            )
            user = row.scalar_one_or_none()
        if user is None:
            raise AuthenticationError("session expired or unknown")
        return _principal(user)

    async def logout(self, session_id: str) -> None:
        async with transaction(self._sessions) as s:
            await s.execute(
                sa.delete(UserSession).where(col(UserSession.token_hash) == hash_token(session_id))
            )
