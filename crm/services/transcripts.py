"""Transcript segments of calls: idempotent storage, listing, and the live analysis path.

``add(call_id, data)`` stores a segment once per ``(call_id, segment_id)``. When the call is
known (its row exists: it is built from the dialer's events), the segment is analysed at once
(keywords, sentiment, dates) and the ``in_call`` rules run; when it is not known yet, the
segment waits and :meth:`TranscriptService.on_call_event` processes it as soon as the call has
its agent (the ``bridged`` event) or has ended. The transcript line and any suggestion are
pushed to the call's agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Call
from crm.db.models_speech import TranscriptSegmentRow
from crm.domain.segments import Segment, parse_segment
from crm.errors import ConflictError, NotFoundError
from crm.ports import Clock
from crm.services.common import transaction

log = logging.getLogger(__name__)


class LivePublisher(Protocol):
    """Where live messages for an agent go (the pop hub behind ``/ws/agent``)."""

    def deliver(self, agent_id: str, message: Mapping[str, Any]) -> int: ...


class SegmentProcessor(Protocol):
    """Runs the analysis and the in-call rules on newly stored segments of a known call."""

    async def process(self, call_id: str, rows: Sequence[TranscriptSegmentRow]) -> list[
        dict[str, Any]]: ...

    async def post_call(self, call_id: str) -> object: ...


@dataclass(frozen=True)
class AddResult:
    created: bool  # False: we already had this segment_id for the call
    segment: TranscriptSegmentRow
    processed: bool  # analysed and rules run (False: waiting for the call's first event)
    firings: list[dict[str, Any]]


def segment_json(row: TranscriptSegmentRow) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    data.pop("id", None)
    return data


class TranscriptService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self.processor: SegmentProcessor | None = None
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextmanager
    def _counted(self, call_id: str) -> Iterator[asyncio.Lock]:
        lock, users = self._locks.get(call_id, (asyncio.Lock(), 0))
        self._locks[call_id] = (lock, users + 1)
        try:
            yield lock
        finally:
            lock, users = self._locks[call_id]
            if users <= 1:
                del self._locks[call_id]
            else:
                self._locks[call_id] = (lock, users - 1)

    async def add(self, call_id: str, data: Any) -> AddResult:
        """Validate and store one segment (idempotent), then analyse it if the call is known.

        Segments of one call are handled one at a time (in arrival order)."""
        segment = parse_segment(call_id, data)
        firings: list[dict[str, Any]] = []
        processed = ended = False
        with self._counted(segment.call_id) as lock:
            async with lock:
                created, row = await self._store(segment)
                if not created and row.processed_at is not None:
                    return AddResult(False, row, True, [])
                # new, or a retry of one whose processing failed: (re)process when ready
                ready, ended = await self._call_ready(segment.call_id)
                if self.processor is not None and ready:
                    firings = await self.processor.process(segment.call_id, [row])
                    processed = True
        if created and processed and ended and self.processor is not None:
            await self.processor.post_call(segment.call_id)  # a late segment: redo the analysis
        return AddResult(created, row, processed, firings)

    async def _store(self, seg: Segment) -> tuple[bool, TranscriptSegmentRow]:
        existing = await self._find(seg.call_id, seg.segment_id)
        if existing is not None:
            return False, existing
        try:
            async with transaction(self._sessions) as s:
                row = TranscriptSegmentRow(**asdict(seg), received_at=self._clock.now())
                s.add(row)
            return True, row
        except ConflictError:  # lost a race with the same segment (another process)
            again = await self._find(seg.call_id, seg.segment_id)
            if again is None:
                raise
            return False, again

    async def _find(self, call_id: str, segment_id: str) -> TranscriptSegmentRow | None:
        async with self._sessions() as s:
            found: TranscriptSegmentRow | None = await s.scalar(
                sa.select(TranscriptSegmentRow).where(
                    col(TranscriptSegmentRow.call_id) == call_id,
                    col(TranscriptSegmentRow.segment_id) == segment_id,
                )
            )
            return found

    async def _call_ready(self, call_id: str) -> tuple[bool, bool]:
        """(ready, ended): a segment is analysed once the call has its agent (the live push
        and the tasks need them) or has ended without one."""
        async with self._sessions() as s:
            call = await s.get(Call, call_id)
        if call is None:
            return False, False
        ended = call.state == "ended"
        return call.agent_id is not None or ended, ended

    async def on_call_event(self, call_id: str) -> list[dict[str, Any]]:
        """The call's row now exists (or changed): process the segments that waited for it.
        One indexed query for a call with nothing waiting (the common case)."""
        if self.processor is None or not await self._waiting(call_id):
            return []
        if not (await self._call_ready(call_id))[0]:
            return []
        with self._counted(call_id) as lock:
            async with lock:
                waiting = await self._waiting(call_id)
                if not waiting:
                    return []
                return await self.processor.process(call_id, waiting)

    async def _waiting(self, call_id: str) -> list[TranscriptSegmentRow]:
        async with self._sessions() as s:
            return list(
                await s.scalars(
                    sa.select(TranscriptSegmentRow)
                    .where(
                        col(TranscriptSegmentRow.call_id) == call_id,
                        col(TranscriptSegmentRow.processed_at).is_(None),
                    )
                    .order_by(col(TranscriptSegmentRow.start_s), col(TranscriptSegmentRow.id))
                )
            )

    async def segments(self, call_id: str) -> list[TranscriptSegmentRow]:
        async with self._sessions() as s:
            return list(
                await s.scalars(
                    sa.select(TranscriptSegmentRow)
                    .where(col(TranscriptSegmentRow.call_id) == call_id)
                    .order_by(col(TranscriptSegmentRow.start_s), col(TranscriptSegmentRow.id))
                )
            )

    async def transcript(self, call_id: str) -> tuple[Call | None, list[TranscriptSegmentRow]]:
        """The call (None if its events have not arrived) and its segments, in time order.
        Raises :class:`NotFoundError` when neither exists."""
        rows = await self.segments(call_id)
        async with self._sessions() as s:
            call = await s.get(Call, call_id)
        if call is None and not rows:
            raise NotFoundError("call", call_id)
        return call, rows
