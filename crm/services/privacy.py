"""Data-subject rights (PIPL arts. 45 and 47): export everything held about a customer, and
erase it.

**Export** returns one JSON document: the customer (and the records merged into it), numbers,
tags, notes, tasks, leads, calls with their events, recordings' metadata (never paths),
transcripts and call analyses when the speech tables exist, rule firings, and the DNC entries
for their numbers. It is audited (``customer.exported``).

**Erasure** in one transaction:

- recording files of the customer's calls are deleted (rows kept, marked purged, reason
  ``erasure``), transcripts and call analyses deleted, rule firings stripped of evidence;
- numbers, notes, tasks, tag links and leads are deleted; the customer row and every record
  merged into it are deleted (so the id answers 404 afterwards);
- calls are kept for the aggregate statistics (campaign, agent, outcome, durations,
  disposition) with the customer, lead and dialed number removed, and their stored events
  reduced to the same non-personal fields (a late event cannot re-attach the customer);
- audit entries about the customer, its calls and leads keep their action and time, their
  details are replaced by ``{"scrubbed": "erasure"}`` (an earlier entry may hold a name);
- by default the numbers are added to the global DNC list (reason ``erasure request``, no link
  to anyone): without it, a re-imported list would dial the person again, the opposite of
  what an erasure request means. The number on a suppression list is the minimum kept to honour
  the request; ``add_to_dnc=False`` skips it when the person asks for that too;
- one ``customer.erased`` audit entry with counts only — no name, no number.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.engine import metadata
from crm.db.models import (
    Call,
    CallEventRow,
    Customer,
    CustomerTag,
    Note,
    PhoneNumber,
    Recording,
    Tag,
    Task,
)
from crm.db.models_ops import GLOBAL_SCOPE, AuditLog, DncEntry, Lead
from crm.ports import Clock
from crm.services.common import audit, transaction
from crm.services.customers import resolve_customer
from crm.services.recording_upkeep import purge_files
from crm.services.recordings import EncryptedFileStore, public_recording_url, recording_json

# the call-event fields that say nothing about who was called
_EVENT_KEEP = (
    "event_id",
    "call_id",
    "type",
    "occurred_at",
    "campaign_id",
    "agent_id",
    "outcome",
    "hangup_cause",
    "talk_seconds",
    "wrap_seconds",
    "hold_seconds",
    "disposition",
    "intent_score",
)
SCRUBBED = {"scrubbed": "erasure"}
DNC_REASON = "erasure request"


@dataclass(frozen=True)
class Subject:
    """Everything keyed to one person: customer ids (the survivor first), leads, calls,
    numbers."""

    customer_ids: list[uuid.UUID]
    lead_ids: list[uuid.UUID]
    call_ids: list[str]
    numbers: list[str]


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(result: Iterable[Any]) -> list[dict[str, Any]]:
    return [_json(dict(r._mapping)) for r in result]


def _model(obj: Any) -> dict[str, Any]:
    return dict(obj.model_dump(mode="json"))


async def _subject(s: AsyncSession, customer_id: uuid.UUID) -> Subject:
    survivor = await resolve_customer(s, customer_id)
    ids = [survivor.id]
    frontier = [survivor.id]
    while frontier:  # the records merged into it (tombstones keep their old name and email)
        merged = list(
            await s.scalars(
                sa.select(col(Customer.id)).where(col(Customer.merged_into_id).in_(frontier))
            )
        )
        frontier = [m for m in merged if m not in ids]
        ids.extend(frontier)
    leads = list(await s.scalars(sa.select(col(Lead.id)).where(col(Lead.customer_id).in_(ids))))
    of_person: sa.ColumnElement[bool] = col(Call.customer_id).in_(ids)
    if leads:
        of_person = sa.or_(of_person, col(Call.lead_id).in_(leads))
    calls = list(await s.scalars(sa.select(col(Call.call_id)).where(of_person)))
    numbers = set(
        await s.scalars(
            sa.select(col(PhoneNumber.e164)).where(col(PhoneNumber.customer_id).in_(ids))
        )
    )
    numbers |= set(
        await s.scalars(sa.select(col(Lead.phone_e164)).where(col(Lead.customer_id).in_(ids)))
    )
    return Subject(ids, leads, calls, sorted(numbers))


def _table(name: str) -> sa.Table | None:
    """Tables owned by other slices (speech), used when present."""
    return metadata.tables.get(name)


class PrivacyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        files: EncryptedFileStore,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._files = files
        self._clock = clock

    # --- export ---------------------------------------------------------------------------
    async def export(
        self, customer_id: uuid.UUID, *, actor_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        async with self._sessions() as s:
            subj = await _subject(s, customer_id)
            doc = await self._collect(s, subj)
        async with transaction(self._sessions) as s:
            audit(
                s,
                actor_id,
                "customer.exported",
                "customer",
                subj.customer_ids[0],
                {"calls": len(subj.call_ids), "merged_records": len(subj.customer_ids) - 1},
            )
        return doc

    async def _collect(self, s: AsyncSession, subj: Subject) -> dict[str, Any]:
        ids, calls = subj.customer_ids, subj.call_ids
        customers = {
            c.id: c for c in await s.scalars(sa.select(Customer).where(col(Customer.id).in_(ids)))
        }
        events: dict[str, list[dict[str, Any]]] = {c: [] for c in calls}
        for ev in await s.scalars(
            sa.select(CallEventRow)
            .where(col(CallEventRow.call_id).in_(calls))
            .order_by(col(CallEventRow.occurred_at), col(CallEventRow.id))
        ):
            events[ev.call_id].append(_json(ev.payload))
        call_rows = []
        for call in await s.scalars(
            sa.select(Call).where(col(Call.call_id).in_(calls)).order_by(col(Call.originated_at))
        ):
            call_rows.append(
                {
                    **_model(call),
                    "recording_url": public_recording_url(call),
                    "events": events.get(call.call_id, []),
                }
            )

        async def models(stmt: sa.Select[Any]) -> list[dict[str, Any]]:
            return [_model(x) for x in await s.scalars(stmt)]

        doc: dict[str, Any] = {
            "format": "dialcrm.customer-export/1",
            "exported_at": self._clock.now().isoformat(),
            "customer": _model(customers[ids[0]]),
            "merged_records": [_model(customers[i]) for i in ids[1:] if i in customers],
            "numbers": await models(
                sa.select(PhoneNumber).where(col(PhoneNumber.customer_id).in_(ids))
            ),
            "tags": [
                name
                for name, _ in await s.execute(
                    sa.select(col(Tag.name), col(Tag.name_key))
                    .join(CustomerTag, col(CustomerTag.tag_id) == col(Tag.id))
                    .where(col(CustomerTag.customer_id).in_(ids))
                    .distinct()
                    .order_by(col(Tag.name_key))
                )
            ],
            "notes": await models(
                sa.select(Note).where(col(Note.customer_id).in_(ids)).order_by(col(Note.created_at))
            ),
            "tasks": await models(
                sa.select(Task)
                .where(sa.or_(col(Task.customer_id).in_(ids), col(Task.call_id).in_(calls)))
                .order_by(col(Task.created_at))
            ),
            "leads": await models(sa.select(Lead).where(col(Lead.customer_id).in_(ids))),
            "calls": call_rows,
            "recordings": [
                recording_json(r)
                for r in await s.scalars(
                    sa.select(Recording)
                    .where(col(Recording.call_id).in_(calls))
                    .order_by(col(Recording.created_at))
                )
            ],
            "dnc": await models(sa.select(DncEntry).where(col(DncEntry.e164).in_(subj.numbers))),
        }
        doc.update(await self._speech(s, subj))
        return doc

    async def _speech(self, s: AsyncSession, subj: Subject) -> dict[str, Any]:
        out: dict[str, Any] = {"transcripts": [], "call_analyses": [], "rule_firings": [],
                               "conversion_routes": []}
        if (t := _table("customer_routes")) is not None:  # P(convert) and route, per record
            out["conversion_routes"] = _rows(
                await s.execute(sa.select(t).where(t.c.customer_id.in_(subj.customer_ids)))
            )
        if (t := _table("transcript_segments")) is not None:
            out["transcripts"] = _rows(
                await s.execute(
                    sa.select(t)
                    .where(t.c.call_id.in_(subj.call_ids))
                    .order_by(t.c.call_id, t.c.start_s)
                )
            )
        if (t := _table("call_analyses")) is not None:
            out["call_analyses"] = _rows(
                await s.execute(sa.select(t).where(t.c.call_id.in_(subj.call_ids)))
            )
        if (t := _table("rule_firings")) is not None:
            out["rule_firings"] = _rows(
                await s.execute(sa.select(t).where(self._firing_of(t, subj)))
            )
        return out

    @staticmethod
    def _firing_of(t: sa.Table, subj: Subject) -> sa.ColumnElement[bool]:
        return sa.or_(t.c.call_id.in_(subj.call_ids), t.c.customer_id.in_(subj.customer_ids))

    # --- erasure --------------------------------------------------------------------------
    async def erase(
        self,
        customer_id: uuid.UUID,
        *,
        add_to_dnc: bool = True,
        actor_id: uuid.UUID | None = None,
    ) -> dict[str, int]:
        """Erase the customer (see the module's docstring); returns the counts audited."""
        async with transaction(self._sessions) as s:
            subj = await _subject(s, customer_id)
            counts = await self._erase_speech(s, subj)
            recordings = list(
                await s.scalars(
                    sa.select(Recording).where(
                        col(Recording.call_id).in_(subj.call_ids),
                        col(Recording.purged_at).is_(None),
                    )
                )
            )
            counts["recordings"] = await purge_files(
                s, self._files, recordings, "erasure", self._clock, actor_id
            )
            counts["call_events"] = await self._scrub_events(s, subj.call_ids)
            counts["calls"] = await self._count(
                s,
                sa.update(Call)
                .where(col(Call.call_id).in_(subj.call_ids))
                .values(customer_id=None, lead_id=None, number_dialed=None),
            )
            counts.update(await self._delete_personal(s, subj))
            counts["audit_entries_scrubbed"] = await self._scrub_audit(s, subj, add_to_dnc)
            counts["dnc_added"] = (
                await self._suppress(s, subj.numbers, actor_id) if add_to_dnc else 0
            )
            counts["merged_records"] = len(subj.customer_ids) - 1
            audit(s, actor_id, "customer.erased", "customer", subj.customer_ids[0], dict(counts))
            return counts

    @staticmethod
    async def _count(s: AsyncSession, stmt: Any) -> int:
        result = await s.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _erase_speech(self, s: AsyncSession, subj: Subject) -> dict[str, int]:
        counts = {"transcript_segments": 0, "call_analyses": 0, "rule_firings_scrubbed": 0}
        for name in ("transcript_segments", "call_analyses"):
            if (t := _table(name)) is not None:
                counts[name] = await self._count(
                    s, sa.delete(t).where(t.c.call_id.in_(subj.call_ids))
                )
        if (t := _table("rule_firings")) is not None:
            counts["rule_firings_scrubbed"] = await self._count(
                s,
                sa.update(t)
                .where(self._firing_of(t, subj))
                .values(evidence=[], detail=SCRUBBED, customer_id=None),
            )
        return counts

    @staticmethod
    async def _scrub_events(s: AsyncSession, call_ids: Sequence[str]) -> int:
        n = 0
        for ev in await s.scalars(
            sa.select(CallEventRow).where(col(CallEventRow.call_id).in_(call_ids))
        ):
            ev.payload = {k: v for k, v in ev.payload.items() if k in _EVENT_KEEP}
            n += 1
        return n

    async def _delete_personal(self, s: AsyncSession, subj: Subject) -> dict[str, int]:
        ids, calls = subj.customer_ids, subj.call_ids
        counts = {
            "tasks": await self._count(
                s,
                sa.delete(Task).where(
                    sa.or_(col(Task.customer_id).in_(ids), col(Task.call_id).in_(calls))
                ),
            ),
            "notes": await self._count(
                s,
                sa.delete(Note).where(
                    sa.or_(col(Note.customer_id).in_(ids), col(Note.call_id).in_(calls))
                ),
            ),
            "tags": await self._count(
                s, sa.delete(CustomerTag).where(col(CustomerTag.customer_id).in_(ids))
            ),
            "numbers": await self._count(
                s, sa.delete(PhoneNumber).where(col(PhoneNumber.customer_id).in_(ids))
            ),
        }
        counts["other_references"] = await self._release(s, "leads", subj.lead_ids, {"calls"})
        counts["leads"] = await self._count(
            s, sa.delete(Lead).where(col(Lead.id).in_(subj.lead_ids))
        )
        known = {"calls", "leads", "phone_numbers", "customer_tags", "notes", "tasks", "customers"}
        counts["other_references"] += await self._release(s, "customers", ids, known)
        await s.execute(
            sa.update(Customer).where(col(Customer.id).in_(ids)).values(merged_into_id=None)
        )
        counts["customers"] = await self._count(
            s, sa.delete(Customer).where(col(Customer.id).in_(ids))
        )
        return counts

    async def _release(
        self, s: AsyncSession, target: str, ids: Sequence[Any], handled: set[str]
    ) -> int:
        """Rows of other slices' tables pointing at rows about to be deleted: a nullable
        reference is cleared, a mandatory one's row deleted (it was about this person)."""
        if not ids:
            return 0
        n = 0
        for table in metadata.sorted_tables:
            if table.name in handled:
                continue
            for fk in table.foreign_keys:
                if fk.column.table.name != target:
                    continue
                where = fk.parent.in_(ids)
                stmt = (
                    sa.update(table).where(where).values({fk.parent.name: None})
                    if fk.parent.nullable
                    else sa.delete(table).where(where)
                )
                n += await self._count(s, stmt)
        return n

    @staticmethod
    async def _scrub_audit(s: AsyncSession, subj: Subject, keep_numbers: bool) -> int:
        refs = [
            sa.and_(
                col(AuditLog.entity_type) == "customer",
                col(AuditLog.entity_id).in_([str(i) for i in subj.customer_ids]),
            ),
            sa.and_(
                col(AuditLog.entity_type) == "lead",
                col(AuditLog.entity_id).in_([str(i) for i in subj.lead_ids]),
            ),
            sa.and_(
                col(AuditLog.entity_type) == "call", col(AuditLog.entity_id).in_(subj.call_ids)
            ),
        ]
        result = await s.execute(sa.update(AuditLog).where(sa.or_(*refs)).values(details=SCRUBBED))
        n = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if not keep_numbers:  # no suppression wanted: the DNC audit trail loses the number too
            result = await s.execute(
                sa.update(AuditLog)
                .where(
                    col(AuditLog.entity_type) == "dnc", col(AuditLog.entity_id).in_(subj.numbers)
                )
                .values(entity_id="erased", details=SCRUBBED)
            )
            n += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return n

    @staticmethod
    async def _suppress(s: AsyncSession, numbers: Sequence[str], actor_id: uuid.UUID | None) -> int:
        have = set(
            await s.scalars(
                sa.select(col(DncEntry.e164)).where(
                    col(DncEntry.e164).in_(numbers), col(DncEntry.scope) == GLOBAL_SCOPE
                )
            )
        )
        added = [n for n in numbers if n not in have]
        for number in added:
            s.add(DncEntry(e164=number, scope=GLOBAL_SCOPE, reason=DNC_REASON, created_by=actor_id))
        return len(added)
