"""Recordings: encrypted files under unguessable names, the reference and checksum in the DB,
served only through short-lived signed URLs to the people allowed to hear them.

- At rest: :mod:`crm.crypto` (AES-GCM in authenticated chunks, the key id in each file's header
  and in ``recordings.key_id``). ``sha256`` and ``size_bytes`` describe the *plaintext* audio.
- Access: managers and admins hear every recording; an agent only the calls they handled. A URL
  is issued for one recording and one user and expires after ``recording_url_ttl_seconds``. Every
  issue, every file served and every refusal is written to the audit log (a refusal in its own
  transaction, so it survives the refused request).
- Retention and key rotation: :mod:`crm.services.recording_upkeep`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import uuid
import wave
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.crypto import (
    DEFAULT_CHUNK,
    MAGIC,
    Keyring,
    RecordingCryptoError,
    SignedUrlInvalidError,
    StreamEncryptor,
    UrlGrant,
    UrlSigner,
    decrypt_file,
    decrypt_file_range,
)
from crm.db.models import Call, Recording
from crm.domain.access import Principal, Reach, sees
from crm.domain.enums import Role
from crm.errors import (
    CrmError,
    GoneError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
)
from crm.ports import Clock, RecordingStore, StoredFile
from crm.services.access import call_reach
from crm.services.common import audit, parse_uuid, transaction
from predictive.private_files import open_private, private_dir

log = logging.getLogger(__name__)

MAX_RECORDING = 512 * 1024 * 1024
CONTENT_TYPES = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav"}


class RecordingPurgedError(GoneError):
    error_id = "recording_purged"


class EncryptedFileStore:
    """Recordings as ``<root>/<yyyy>/<mm>/<uuid><ext>``, each encrypted under the keyring's
    active key. A file is written as ``….part`` and renamed once complete."""

    def __init__(
        self, root: Path, clock: Clock, keyring: Keyring, chunk_size: int = DEFAULT_CHUNK
    ) -> None:
        self._root = root
        self._clock = clock
        self.keyring = keyring
        self._chunk = chunk_size

    def _target(self, name: str) -> Path:
        now = self._clock.now()
        folder = self._root / f"{now:%Y}" / f"{now:%m}"
        private_dir(folder)
        target = folder / name
        if target.exists():
            raise FileExistsError(target)
        return target

    async def put(
        self,
        name: str,
        source: bytes | str | AsyncIterable[bytes],
        *,
        max_bytes: int = MAX_RECORDING,
    ) -> StoredFile:
        """Encrypt ``source`` (bytes, a file path, or an async stream of bytes) into the store."""
        target = await asyncio.to_thread(self._target, name)
        part = target.with_name(target.name + ".part")
        enc = self.keyring.encryptor(self._chunk)
        out = await asyncio.to_thread(open_private, part)
        try:
            try:
                await asyncio.to_thread(out.write, enc.header())
                if isinstance(source, bytes | str):
                    await asyncio.to_thread(self._copy, source, out, enc, max_bytes)
                else:
                    async for data in source:
                        sealed = enc.update(data)
                        if enc.size > max_bytes:
                            raise TooLargeError("body", max_bytes)
                        await asyncio.to_thread(out.write, sealed)
                await asyncio.to_thread(out.write, enc.finalize())
            finally:
                await asyncio.to_thread(out.close)
            await asyncio.to_thread(os.replace, part, target)
        except BaseException:
            await asyncio.to_thread(part.unlink, True)
            raise
        return StoredFile(str(target), enc.size, enc.sha256.hexdigest(), enc.key_id)

    def _copy(
        self, source: bytes | str, out: BinaryIO, enc: StreamEncryptor, max_bytes: int
    ) -> None:
        if isinstance(source, bytes):
            for i in range(0, len(source), self._chunk):
                out.write(enc.update(source[i : i + self._chunk]))
        else:
            with open(source, "rb") as f:
                while data := f.read(self._chunk):
                    out.write(enc.update(data))
        if enc.size > max_bytes:
            raise TooLargeError("body", max_bytes)

    def plaintext(self, path: str) -> Iterator[bytes]:
        """The audio, chunk by chunk (blocking: iterate in a worker thread). Files written
        before encryption existed (no header) are passed through as they are."""
        with open(path, "rb") as f:
            encrypted = f.read(len(MAGIC)) == MAGIC
        if encrypted:
            yield from decrypt_file(path, self.keyring, self._chunk)
            return
        with open(path, "rb") as f:
            while data := f.read(self._chunk):
                yield data

    def plaintext_range(self, path: str, start: int, stop: int) -> Iterator[bytes]:
        """Bytes ``[start, stop)`` of the audio, reading only what holds them (blocking)."""
        with open(path, "rb") as f:
            encrypted = f.read(len(MAGIC)) == MAGIC
        if encrypted:
            yield from decrypt_file_range(path, self.keyring, start, stop)
            return
        with open(path, "rb") as f:
            f.seek(start)
            left = stop - start
            while left > 0 and (data := f.read(min(self._chunk, left))):
                left -= len(data)
                yield data

    async def stream(
        self, path: str, byte_range: tuple[int, int] | None = None
    ) -> AsyncIterator[bytes]:
        chunks = (
            self.plaintext(path) if byte_range is None else self.plaintext_range(path, *byte_range)
        )
        while (data := await asyncio.to_thread(next, chunks, None)) is not None:
            yield data

    async def read_all(self, path: str) -> bytes:
        return b"".join(await asyncio.to_thread(list, self.plaintext(path)))

    async def delete(self, path: str) -> None:
        if path:
            await asyncio.to_thread(Path(path).unlink, True)


def may_hear(who: Principal, reach: Reach) -> bool:
    """The call's agent, its campaign's manager, admins (:func:`crm.domain.access.sees`)."""
    return who.role in (Role.ADMIN, Role.MANAGER, Role.AGENT) and sees(who, reach)


def public_recording_url(call: Call) -> str | None:
    """A call's recording link as shown by the API: the authorised CRM endpoint, never a path
    on disk (a pushed value is only kept when it is an http(s) URL or an /api/ path)."""
    if call.recording_id is not None:
        return f"/api/calls/{call.call_id}/recording"
    url = call.recording_url
    if url and (url.startswith(("https://", "http://")) or url.startswith("/api/")):
        return url
    return None


def recording_json(rec: Recording) -> dict[str, Any]:
    """What the API shows of a recording: never its path on disk."""
    data = rec.model_dump(mode="json", exclude={"path"})
    data["encrypted"] = rec.key_id is not None
    data["available"] = rec.purged_at is None
    return data


class RangeNotSatisfiableError(CrmError):
    """The requested byte range starts beyond the recording (HTTP 416)."""

    error_id = "range_not_satisfiable"


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    """One HTTP ``Range: bytes=…`` request: ``first-last``, ``first-`` or the suffix ``-n``."""

    first: int | None
    last: int | None

    @classmethod
    def parse(cls, header: str | None) -> ByteRange | None:
        """None for no header, several ranges, other units or nonsense: the whole file is sent
        (what RFC 9110 allows a server to do)."""
        m = _RANGE.match((header or "").strip())
        if m is None or m.group(1) == m.group(2) == "":
            return None
        first = int(m.group(1)) if m.group(1) else None
        last = int(m.group(2)) if m.group(2) else None
        if first is not None and last is not None and last < first:
            return None
        if first is None and last == 0:
            return None
        return cls(first, last)

    def resolve(self, size: int) -> tuple[int, int]:
        """``[start, stop)`` within a file of ``size`` bytes."""
        if self.first is None:
            start, stop = max(0, size - (self.last or 0)), size
        else:
            start = self.first
            stop = size if self.last is None else min(self.last + 1, size)
        if start >= size:
            raise RangeNotSatisfiableError(
                "range starts beyond the recording", details={"size": size}
            )
        return start, stop


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime
    recording: Recording


@dataclass(frozen=True)
class Playback:
    recording: Recording
    chunks: AsyncIterator[bytes]
    byte_range: tuple[int, int] | None = None  # [start, stop) of the plaintext, when asked


class RecordingService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: RecordingStore,
        clock: Clock,
        signer: UrlSigner,
        url_ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self._sessions = sessions
        self.files = store
        self._clock = clock
        self._signer = signer
        self._ttl = url_ttl

    # --- storing -------------------------------------------------------------------------
    async def store(
        self,
        call_id: str,
        source: bytes | str | Path | AsyncIterable[bytes],
        *,
        duration_seconds: float | None = None,
        content_type: str = "audio/wav",
        actor_id: uuid.UUID | None = None,
    ) -> Recording:
        if not call_id or len(call_id) > 128:
            raise InvalidInputError("call_id", "call_id must be 1 to 128 characters")
        rec_id = uuid.uuid4()
        ext = CONTENT_TYPES.get(content_type, ".bin")
        raw = str(source) if isinstance(source, Path) else source
        stored = await self.files.put(f"{rec_id.hex}{ext}", raw)
        try:
            if stored.size == 0:
                raise InvalidInputError("body", "empty recording")
            if duration_seconds is None and ext == ".wav":
                duration_seconds = await self._duration(stored.path)
            async with transaction(self._sessions) as s:
                rec = Recording(
                    id=rec_id,
                    call_id=call_id,
                    path=stored.path,
                    size_bytes=stored.size,
                    duration_seconds=duration_seconds,
                    sha256=stored.sha256,
                    content_type=content_type,
                    key_id=stored.key_id,
                    created_at=self._clock.now(),
                )
                s.add(rec)
                await s.flush()
                call = await s.get(Call, call_id)
                if call is not None:
                    call.recording_id = rec.id
                audit(
                    s,
                    actor_id,
                    "recording.stored",
                    "recording",
                    rec.id,
                    {"call_id": call_id, "sha256": stored.sha256, "key_id": stored.key_id},
                )
                return rec
        except BaseException:
            await self.files.delete(stored.path)  # no orphan file without a row
            raise

    async def _duration(self, path: str) -> float | None:
        head = bytearray()
        async for data in self.files.stream(path):  # the WAV header is in the first chunk
            head += data
            break
        try:
            with wave.open(io.BytesIO(bytes(head)), "rb") as w:
                return w.getnframes() / float(w.getframerate())
        except (wave.Error, EOFError, OSError, ZeroDivisionError):
            return None

    # --- reading (metadata) ---------------------------------------------------------------
    async def get(self, recording_id: uuid.UUID) -> Recording:
        async with self._sessions() as s:
            rec = await s.get(Recording, recording_id)
            if rec is None:
                raise NotFoundError("recording", recording_id)
            return rec

    async def for_call(self, call_id: str) -> Recording:
        """The call's latest recording."""
        async with self._sessions() as s:
            rec = await s.scalar(
                sa.select(Recording)
                .where(col(Recording.call_id) == call_id)
                .order_by(col(Recording.created_at).desc())
                .limit(1)
            )
            if rec is None:
                raise NotFoundError("recording of call", call_id)
            return rec

    async def plaintext(self, recording_id: uuid.UUID) -> bytes:
        """The whole decrypted audio (for tests and tools; the HTTP path streams)."""
        rec = await self.get(recording_id)
        if rec.purged_at is not None:
            raise RecordingPurgedError("recording purged", details={"reason": rec.purge_reason})
        return await self.files.read_all(rec.path)

    # --- access ---------------------------------------------------------------------------
    async def _authorise(self, who: Principal, rec_id: uuid.UUID, action: str) -> Recording:
        """The recording if ``who`` may hear it; otherwise audit the refusal and raise."""
        async with self._sessions() as s:
            rec = await s.get(Recording, rec_id)
            reach = await call_reach(s, rec.call_id) if rec is not None else None
        if rec is None or reach is None:
            await self._refused(who.user_id, str(rec_id), action, "not_found")
            raise NotFoundError("recording", rec_id)
        if not may_hear(who, reach):
            await self._refused(who.user_id, str(rec_id), action, "forbidden")
            raise PermissionDeniedError(
                "only managers, admins and the call's agent may hear this recording",
                details={"role": who.role.value},
            )
        if rec.purged_at is not None:
            await self._refused(who.user_id, str(rec_id), action, "purged")
            raise RecordingPurgedError(
                "the recording was deleted", details={"reason": rec.purge_reason}
            )
        return rec

    async def _refused(
        self, actor_id: uuid.UUID | None, entity_id: str, action: str, reason: str
    ) -> None:
        async with transaction(self._sessions) as s:
            audit(
                s,
                actor_id,
                "recording.access_refused",
                "recording",
                entity_id,
                {"action": action, "reason": reason},
            )
        log.info("recording %s: %s refused to %s (%s)", entity_id, action, actor_id, reason)

    async def issue_url(self, who: Principal, recording_id: uuid.UUID | str) -> SignedUrl:
        rec_id = parse_uuid(recording_id, "recording_id")
        rec = await self._authorise(who, rec_id, "url")
        expires = self._clock.now() + self._ttl
        token = self._signer.sign(UrlGrant(rec.id, who.user_id, expires))
        expires = expires.replace(microsecond=0)
        async with transaction(self._sessions) as s:
            audit(
                s,
                who.user_id,
                "recording.url_issued",
                "recording",
                rec.id,
                {"expires_at": expires.isoformat(), "call_id": rec.call_id},
            )
        return SignedUrl(f"/recordings/{token}", expires, rec)

    async def open_signed(
        self, who: Principal | None, token: str, byte_range: ByteRange | None = None
    ) -> Playback:
        """Check a signed URL for ``who`` and open the audio stream (audited either way);
        ``byte_range`` (an HTTP range) is resolved against the recording's size."""
        try:
            grant = self._signer.verify(token, self._clock.now())
        except (PermissionDeniedError, GoneError) as exc:
            await self._refused(who.user_id if who else None, "unknown", "play", exc.error_id)
            raise
        if who is None or who.user_id != grant.user_id:
            await self._refused(
                who.user_id if who else None, str(grant.recording_id), "play", "other_user"
            )
            raise SignedUrlInvalidError("this recording URL was issued to another user")
        rec = await self._authorise(who, grant.recording_id, "play")
        span = byte_range.resolve(rec.size_bytes) if byte_range is not None else None
        chunks = self.files.stream(rec.path, span)
        try:
            first = await anext(chunks, b"")  # fail before any byte is sent if key/file is bad
        except (RecordingCryptoError, OSError) as exc:
            await self._refused(who.user_id, str(rec.id), "play", "unreadable")
            log.error("recording %s: cannot be read: %s", rec.id, exc)
            raise
        async with transaction(self._sessions) as s:
            audit(s, who.user_id, "recording.served", "recording", rec.id, {"call_id": rec.call_id})
        return Playback(rec, _prepend(first, chunks), span)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for data in rest:
        yield data
