"""Recording upkeep: the retention sweep (per campaign ``retention_days``) and key rotation.

- **Retention**: a recording of a call whose campaign has ``retention_days = N`` is purged once
  it is older than N days (``recordings.created_at``): the file is deleted, the row stays (size,
  duration, checksum, the call it belongs to) with ``purged_at`` and ``purge_reason="retention"``,
  and each purge is audited. Campaigns with ``retention_days`` NULL keep their recordings.
- **Rotation**: every live recording not under the keyring's active key (or a legacy plaintext
  file) is re-encrypted under it: decrypted and re-encrypted chunk by chunk into a new file next
  to it, the plaintext checksum compared with the row's, then atomically renamed over the old
  file. Old keys keep decrypting until every file is rotated; only then remove them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.crypto import RecordingCryptoError
from crm.db.models import Call, Recording
from crm.db.models_ops import Campaign
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services.common import audit, transaction
from crm.services.recordings import EncryptedFileStore
from predictive.private_files import open_private

log = logging.getLogger(__name__)
BATCH = 200


@dataclass
class SweepResult:
    purged: int = 0
    campaigns: int = 0


@dataclass
class RotationResult:
    rotated: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # recording id → why
    active_key: str = ""


async def purge_files(
    s: AsyncSession,
    store: EncryptedFileStore,
    recordings: list[Recording],
    reason: str,
    clock: Clock,
    actor_id: uuid.UUID | None,
) -> int:
    """Delete the files and mark the rows purged (in ``s``'s transaction), one audit entry each.
    Files go first: a crash in between leaves rows still unpurged, and the next run retries."""
    for rec in recordings:
        await store.delete(rec.path)
        rec.purged_at = clock.now()
        rec.purge_reason = reason
        rec.path = ""
        audit(
            s,
            actor_id,
            "recording.purged",
            "recording",
            rec.id,
            {"reason": reason, "call_id": rec.call_id},
        )
    return len(recordings)


class RecordingUpkeep:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: EncryptedFileStore,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._clock = clock

    async def set_retention(
        self, campaign_id: uuid.UUID, days: int | None, *, actor_id: uuid.UUID | None = None
    ) -> Campaign:
        if days is not None and not 1 <= days <= 36500:
            raise InvalidInputError("retention_days", "must be between 1 and 36500, or null")
        async with transaction(self._sessions) as s:
            campaign = await s.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFoundError("campaign", campaign_id)
            before, campaign.retention_days = campaign.retention_days, days
            audit(
                s,
                actor_id,
                "campaign.retention_set",
                "campaign",
                campaign_id,
                {"before": before, "after": days},
            )
            return campaign

    async def sweep(self, *, actor_id: uuid.UUID | None = None) -> SweepResult:
        """Purge every recording past its campaign's retention."""
        result = SweepResult()
        now = self._clock.now()
        async with self._sessions() as s:
            rows = (
                await s.execute(
                    sa.select(col(Campaign.id), col(Campaign.retention_days)).where(
                        col(Campaign.retention_days).is_not(None)
                    )
                )
            ).all()
        for campaign_id, days in rows:
            cutoff = now - timedelta(days=int(days or 0))
            purged = await self._sweep_campaign(campaign_id, cutoff, actor_id)
            if purged:
                result.campaigns += 1
                result.purged += purged
                log.info(
                    "retention: campaign %s: %d recordings older than %d days purged",
                    campaign_id,
                    purged,
                    days,
                )
        return result

    async def _sweep_campaign(
        self, campaign_id: uuid.UUID, cutoff: datetime, actor_id: uuid.UUID | None
    ) -> int:
        total = 0
        while True:
            async with transaction(self._sessions) as s:
                batch = list(
                    await s.scalars(
                        sa.select(Recording)
                        .join(Call, col(Call.call_id) == col(Recording.call_id))
                        .where(
                            col(Call.campaign_id) == campaign_id,
                            col(Recording.purged_at).is_(None),
                            col(Recording.created_at) < cutoff,
                        )
                        .order_by(col(Recording.created_at))
                        .limit(BATCH)
                    )
                )
                total += await purge_files(
                    s, self._store, batch, "retention", self._clock, actor_id
                )
            if len(batch) < BATCH:
                return total

    # --- key rotation -----------------------------------------------------------------------
    async def rotate(self, *, actor_id: uuid.UUID | None = None) -> RotationResult:
        active = self._store.keyring.active_id
        result = RotationResult(active_key=active)
        skip: set[uuid.UUID] = set()
        while True:
            async with self._sessions() as s:
                stmt = (
                    sa.select(Recording)
                    .where(
                        col(Recording.purged_at).is_(None),
                        sa.or_(col(Recording.key_id).is_(None), col(Recording.key_id) != active),
                    )
                    .order_by(col(Recording.id))
                    .limit(BATCH)
                )
                if skip:
                    stmt = stmt.where(col(Recording.id).not_in(skip))
                batch = list(await s.scalars(stmt))
            if not batch:
                return result
            for rec in batch:
                try:
                    await self._rotate_one(rec, active, actor_id)
                    result.rotated += 1
                except (RecordingCryptoError, OSError, ValueError) as exc:
                    skip.add(rec.id)
                    result.failed[str(rec.id)] = str(exc)
                    log.error("recording %s: rotation failed: %s", rec.id, exc)

    async def _rotate_one(self, rec: Recording, active: str, actor_id: uuid.UUID | None) -> None:
        async with self._replacing(Path(rec.path)) as tmp:
            stored = await asyncio.to_thread(self._reencrypt, rec.path, tmp)
            if stored[0] != rec.sha256:
                raise ValueError("plaintext checksum differs from the stored one; file kept")
            await asyncio.to_thread(os.replace, tmp, rec.path)
        async with transaction(self._sessions) as s:
            row = await s.get(Recording, rec.id)
            if row is not None:
                row.key_id = active
            audit(
                s,
                actor_id,
                "recording.rekeyed",
                "recording",
                rec.id,
                {"from": rec.key_id, "to": active},
            )

    @staticmethod
    @asynccontextmanager
    async def _replacing(path: Path) -> AsyncIterator[Path]:
        tmp = path.with_name(path.name + ".rekey")
        try:
            yield tmp
        finally:
            with suppress(FileNotFoundError):
                await asyncio.to_thread(tmp.unlink)

    def _reencrypt(self, source: str, target: Path) -> tuple[str, int]:
        enc = self._store.keyring.encryptor()
        with open_private(target, exclusive=False) as out:
            out.write(enc.header())
            for data in self._store.plaintext(source):
                out.write(enc.update(data))
            out.write(enc.finalize())
            out.flush()
            os.fsync(out.fileno())
        return enc.sha256.hexdigest(), enc.size


async def sweep_forever(upkeep: RecordingUpkeep, interval: float, first_delay: float) -> None:
    """The app's periodic retention sweep; a failed run is logged and retried next period."""
    delay = first_delay
    while True:
        await asyncio.sleep(delay)
        delay = interval
        try:
            result = await upkeep.sweep()
        except Exception:
            log.exception("retention sweep failed; retrying in %.0f s", interval)
            continue
        if result.purged:
            log.info("retention sweep: %d recordings purged", result.purged)
