"""Recordings: bytes on disk under unguessable names, the reference and checksum in the DB."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
import wave
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models import Call, Recording
from crm.ports import Clock, RecordingStore
from crm.services._common import audit, transaction

_CHUNK = 1 << 20


class FileRecordingStore:
    """Stores recordings as ``<root>/<yyyy>/<mm>/<uuid><ext>``."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self._root = root
        self._clock = clock

    async def put(self, name: str, source: bytes | str) -> tuple[str, int, str]:
        return await asyncio.to_thread(self._put, name, source)

    def _put(self, name: str, source: bytes | str) -> tuple[str, int, str]:
        now = self._clock.now()
        folder = self._root / f"{now:%Y}" / f"{now:%m}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        digest, size = hashlib.sha256(), 0
        reader = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
        with reader, open(target, "xb") as out:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return str(target), size, digest.hexdigest()


def wav_duration(path: str) -> float | None:
    try:
        with wave.open(path, "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, OSError, ZeroDivisionError):
        return None


class RecordingService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], store: RecordingStore) -> None:
        self._sessions = sessions
        self._store = store

    async def store(
        self,
        call_id: str,
        source: bytes | str | Path,
        *,
        duration_seconds: float | None = None,
        content_type: str = "audio/wav",
        actor_id: uuid.UUID | None = None,
    ) -> Recording:
        rec_id = uuid.uuid4()
        ext = ".wav" if "wav" in content_type else ".bin"
        raw = str(source) if isinstance(source, Path) else source
        path, size, sha = await self._store.put(f"{rec_id.hex}{ext}", raw)
        if duration_seconds is None and ext == ".wav":
            duration_seconds = await asyncio.to_thread(wav_duration, path)
        try:
            async with transaction(self._sessions) as s:
                rec = Recording(
                    id=rec_id,
                    call_id=call_id,
                    path=path,
                    size_bytes=size,
                    duration_seconds=duration_seconds,
                    sha256=sha,
                    content_type=content_type,
                )
                s.add(rec)
                await s.flush()
                call = await s.get(Call, call_id)
                if call is not None:
                    call.recording_id = rec.id
                audit(s, actor_id, "recording.stored", "call", call_id, {"sha256": sha})
                return rec
        except BaseException:
            await asyncio.to_thread(Path(path).unlink, True)  # no orphan file without a row
            raise
