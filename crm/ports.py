"""Ports the CRM services depend on (implemented by adapters in :mod:`crm.db` and friends)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from crm.domain.callbacks import ClaimFor
from crm.domain.enums import AttemptOutcome, LeadStatus


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests: it only moves when told to."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


@dataclass(frozen=True)
class LeadView:
    """What the dialer's hopper sees of a lead."""

    id: UUID
    campaign_id: UUID
    customer_id: UUID
    phone_e164: str
    priority: int
    attempts: int
    status: LeadStatus
    next_attempt_at: datetime | None
    timezone: str
    agent_id: UUID | None
    locked_by: str | None
    locked_until: datetime | None
    last_outcome: str | None
    outcome_counts: dict[str, int] = field(default_factory=dict)
    close_reason: str | None = None
    created_at: datetime | None = None
    last_attempt_at: datetime | None = None
    # P(live answer) of an attempt now, set at claim by the answer model; its source is the
    # model version or "prior" (crm.services.answer_models)
    p_answer: float | None = None
    p_answer_source: str | None = None
    # the customer's conversion route ("senior" / "standard"; "nurture" leads are never
    # claimed) and P(convert), set at claim (crm.services.conversion_models)
    route: str | None = None
    p_convert: float | None = None
    callback_owner: str | None = None  # a personal callback's agent (crm.domain.callbacks)


class LeadRepository(Protocol):
    """The hopper's view of the lead store. Every method is atomic."""

    async def next_eligible(self, campaign_id: UUID, limit: int) -> Sequence[LeadView]:
        """Dialable, unlocked, due, not DNC, inside the lead's calling window; best first."""
        ...

    async def claim(
        self, campaign_id: UUID, worker: str, limit: int, ttl: timedelta,
        who: ClaimFor | None = None,
    ) -> Sequence[LeadView]:
        """Atomically lock up to ``limit`` eligible leads for ``worker`` until now + ``ttl``;
        personal callbacks only as ``who`` allows (:func:`crm.domain.callbacks.claimable`)."""
        ...

    async def unlock(self, lead_ids: Sequence[UUID], worker: str) -> int:
        """Release locks held by ``worker``; returns how many were released."""
        ...

    async def record_attempt(
        self,
        lead_id: UUID,
        outcome: AttemptOutcome,
        *,
        worker: str | None = None,
        call_id: str | None = None,
        disposition: str | None = None,
        callback_at: datetime | None = None,
        callback_owner: str | None = None,
    ) -> LeadView:
        """Count an attempt, schedule the retry (or close the lead) and release the lock."""
        ...


@dataclass(frozen=True)
class StoredFile:
    """A stored recording: where, and size / SHA-256 of the *plaintext*; the key it is under."""

    path: str
    size: int
    sha256: str
    key_id: str


class RecordingStore(Protocol):
    """Where recording bytes live, encrypted (the DB only keeps the reference)."""

    async def put(
        self, name: str, source: bytes | str | AsyncIterable[bytes], *, max_bytes: int = ...
    ) -> StoredFile:
        """Store bytes, a file path's content, or a stream of bytes."""
        ...

    def stream(self, path: str, byte_range: tuple[int, int] | None = None) -> AsyncIterator[bytes]:
        """The decrypted audio (or bytes ``[start, stop)`` of it), chunk by chunk,
        authenticated as it goes."""
        ...

    async def read_all(self, path: str) -> bytes: ...

    async def delete(self, path: str) -> None: ...
