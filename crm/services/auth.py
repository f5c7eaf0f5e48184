"""Users, API tokens and login sessions.

Password checks are throttled per account and per client address (:mod:`.login_throttle`), and
cost the same whether or not the user exists (an unknown user's password is checked against a
dummy hash). API tokens expire (``token_ttl`` by default, or ``expires_in_days``), are revoked
when the password changes, and record when they were last used (at most once a minute).

The principal of a token or a session is cached for ``principal_cache_s`` (a few seconds: an
authenticated request then costs no database read). Whatever this service changes drops the
entries it concerns at once (a revoked token, a password or role change, a deactivated user, a
logout); a change made by another process is seen within ``principal_cache_s``. An entry never
outlives its token's or session's expiry.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_ops import ApiToken, User, UserSession
from crm.domain.access import Principal
from crm.domain.enums import Role
from crm.errors import (
    AlreadyExistsError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from crm.ports import Clock
from crm.security import MAX_TOKEN_DAYS, hash_password, hash_token, new_token, verify_password
from crm.services.common import Page, audit, paginate, transaction
from crm.services.login_throttle import LoginThrottle

MIN_PASSWORD = 8
LAST_USED_EVERY = timedelta(minutes=1)  # a busy token writes last_used_at at most this often
_DUMMY_PASSWORD = "not-a-password: the hash an unknown user's login is checked against"


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; only its hash is stored
    token_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime


@dataclass
class _Cached:
    """A principal read for a token (or session) hash, and until when it may be reused."""

    principal: Principal
    token_id: uuid.UUID | None  # None: a session
    expires_at: datetime  # the token's or session's own expiry
    last_used: datetime | None  # tokens: last_used_at as last written
    read_at: float  # monotonic


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
        token_ttl: timedelta = timedelta(days=90),
        throttle: LoginThrottle | None = None,
        principal_cache_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self.principal_cache_s = principal_cache_s
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}  # token or session hash → principal
        self._clock = clock
        self._n = scrypt_n
        self._ttl = session_ttl
        self._token_ttl = token_ttl
        self.throttle = throttle or LoginThrottle(clock)
        self._dummy_hash: str | None = None

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(hash_password, password, n=self._n)

    async def _check(self, password: str, stored: str | None) -> bool:
        """scrypt, whether or not there is a hash to check against (no user, no password, an
        inactive user: the dummy hash, same cost), so the time says nothing about the user."""
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(_DUMMY_PASSWORD)
        ok = await asyncio.to_thread(verify_password, password, stored or self._dummy_hash)
        return ok and stored is not None

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
            revoked = await self._revoke_all_tokens(s, user.id) if hashed else 0
            details: dict[str, object] = {
                "role": user.role, "active": user.active, "password_changed": bool(hashed)
            }
            if hashed:
                details |= {"tokens_revoked": revoked, "by_other": actor_id != user.id}
            audit(s, actor_id, "user.updated", "user", user.id, details)
        self.forget_user(user.id)  # role, activity, password: cached principals are stale
        return user

    async def _revoke_all_tokens(self, s: AsyncSession, user_id: uuid.UUID) -> int:
        result = await s.execute(
            sa.update(ApiToken)
            .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=self._clock.now())
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def check_current_password(
        self, user_id: uuid.UUID, password: str | None, *, address: str | None = None
    ) -> None:
        """A user changing their own password proves they know the current one (throttled
        like a login)."""
        if not password:
            raise InvalidInputError(
                "current_password", "the current password is required to change it"
            )
        user = await self.get_user(user_id)
        attempt = self.throttle.begin(user.username, address)
        if not await self._check(password, user.password_hash):
            raise InvalidInputError("current_password", "the current password is wrong")
        self.throttle.succeeded(attempt)

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
        self,
        user_id: uuid.UUID,
        name: str = "api",
        *,
        expires_in_days: int | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> IssuedToken:
        """A new token, shown once; it expires after ``expires_in_days`` (default: the
        configured lifetime)."""
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
            raise InvalidInputError(
                "expires_in_days", f"must be between 1 and {MAX_TOKEN_DAYS}"
            )
        now = self._clock.now()
        life = timedelta(days=expires_in_days) if expires_in_days else self._token_ttl
        expires_at = now + life
        token = new_token()
        async with transaction(self._sessions) as s:
            if await s.get(User, user_id) is None:
                raise NotFoundError("user", user_id)
            row = ApiToken(
                user_id=user_id,
                name=name[:100] or "api",
                token_hash=hash_token(token),
                created_at=now,
                expires_at=expires_at,
            )
            s.add(row)
            await s.flush()
            audit(s, actor_id, "token.issued", "user", user_id,
                  {"token_id": str(row.id), "expires_at": expires_at.isoformat()})
            return IssuedToken(
                token=token, token_id=row.id, user_id=user_id, expires_at=expires_at
            )

    async def list_tokens(
        self, user_id: uuid.UUID, *, limit: int = 50, offset: int = 0
    ) -> Page[ApiToken]:
        """A user's tokens (revoked and expired ones too), newest first."""
        stmt = (
            sa.select(ApiToken)
            .where(col(ApiToken.user_id) == user_id)
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id))
        )
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)

    async def revoke_token(
        self,
        token_id: uuid.UUID,
        *,
        actor_id: uuid.UUID | None = None,
        owner_id: uuid.UUID | None = None,
    ) -> None:
        """Revoke a token; with ``owner_id``, only one of that user's (else 403)."""
        async with transaction(self._sessions) as s:
            row = await s.get(ApiToken, token_id)
            if row is None:
                raise NotFoundError("token", token_id)
            if owner_id is not None and row.user_id != owner_id:
                raise PermissionDeniedError("not your token")
            row.revoked_at = row.revoked_at or self._clock.now()
            audit(s, actor_id, "token.revoked", "user", row.user_id, {"token_id": str(row.id)})
        self._forget_token(token_id)

    # ---- the principal cache ----------------------------------------------------------------
    def _cached(self, key: str, now: datetime) -> _Cached | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if (self._monotonic() - entry.read_at >= self.principal_cache_s
                or now >= entry.expires_at):
            del self._cache[key]
            return None
        return entry

    def _keep(self, key: str, entry: _Cached) -> None:
        if len(self._cache) >= 10_000:  # bounded: drop the oldest entries
            for old in list(self._cache)[:1_000]:
                del self._cache[old]
        self._cache[key] = entry

    def forget_user(self, user_id: uuid.UUID) -> None:
        """Drop every cached principal of this user (their tokens and sessions)."""
        for key in [k for k, e in self._cache.items() if e.principal.user_id == user_id]:
            del self._cache[key]

    def _forget_token(self, token_id: uuid.UUID) -> None:
        for key in [k for k, e in self._cache.items() if e.token_id == token_id]:
            del self._cache[key]

    async def principal_for_token(self, token: str) -> Principal:
        now = self._clock.now()
        key = hash_token(token)
        entry = self._cached(key, now)
        if entry is None:
            entry = await self._read_token(key, now)
        if entry.last_used is None or now - entry.last_used >= LAST_USED_EVERY:
            assert entry.token_id is not None
            await self._touch(entry.token_id, now)
            entry.last_used = now
        return entry.principal

    async def _read_token(self, key: str, now: datetime) -> _Cached:
        async with self._sessions() as s:
            found = (
                await s.execute(
                    sa.select(User, col(ApiToken.id), col(ApiToken.last_used_at),
                              col(ApiToken.expires_at))
                    .join(ApiToken, col(ApiToken.user_id) == col(User.id))
                    .where(
                        col(ApiToken.token_hash) == key,
                        col(ApiToken.revoked_at).is_(None),
                        col(ApiToken.expires_at) > now,
                        col(User.active).is_(True),
                    )
                )
            ).one_or_none()
        if found is None:
            raise AuthenticationError("invalid, expired or revoked token")
        user, token_id, last_used, expires_at = found
        entry = _Cached(_principal(user), token_id, _aware(expires_at or now), last_used,
                        self._monotonic())
        self._keep(key, entry)
        return entry

    async def _touch(self, token_id: uuid.UUID, now: datetime) -> None:
        """``last_used_at = now``, unless another request wrote it within the minute."""
        async with transaction(self._sessions) as s:
            await s.execute(
                sa.update(ApiToken)
                .where(
                    col(ApiToken.id) == token_id,
                    sa.or_(
                        col(ApiToken.last_used_at).is_(None),
                        col(ApiToken.last_used_at) <= now - LAST_USED_EVERY,
                    ),
                )
                .values(last_used_at=now)
            )

    async def login(
        self, username: str, password: str, *, address: str | None = None
    ) -> tuple[str, Principal]:
        """Check the password (throttled per account and per ``address``, the client's);
        returns a new session id (for the cookie) and the principal."""
        attempt = self.throttle.begin(username, address)
        async with self._sessions() as s:
            user = await s.scalar(sa.select(User).where(col(User.username) == username))
        stored = user.password_hash if user and user.active else None
        ok = await self._check(password, stored)  # scrypt even when there is no user
        if user is None or not ok:
            raise AuthenticationError("wrong username or password")
        self.throttle.succeeded(attempt)
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
        now = self._clock.now()
        key = hash_token(session_id)
        entry = self._cached(key, now)
        if entry is not None:
            return entry.principal
        async with self._sessions() as s:
            row = (await s.execute(
                sa.select(User, col(UserSession.expires_at))
                .join(UserSession, col(UserSession.user_id) == col(User.id))
                .where(
                    col(UserSession.token_hash) == key,
                    col(UserSession.expires_at) > now,
                    col(User.active).is_(True),
                )
            )).one_or_none()
        if row is None:
            raise AuthenticationError("session expired or unknown")
        user, expires_at = row
        entry = _Cached(_principal(user), None, _aware(expires_at or now), None,
                        self._monotonic())
        self._keep(key, entry)
        return entry.principal

    async def logout(self, session_id: str) -> None:
        self._cache.pop(hash_token(session_id), None)
        async with transaction(self._sessions) as s:
            await s.execute(
                sa.delete(UserSession).where(col(UserSession.token_hash) == hash_token(session_id))
            )


def _aware(value: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands back naive UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
