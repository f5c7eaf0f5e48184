"""Lead import: column mapping, E.164 normalisation, de-duplication within the file and
against the database, a per-row report, committed in batches (constant memory per batch)."""

from __future__ import annotations

import asyncio
import uuid
import zoneinfo
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Customer, CustomerTag, PhoneNumber
from crm.db.models_ops import Campaign, DncEntry, Lead, User
from crm.domain.names import clean_display_name, name_key
from crm.domain.phones import NormalisedNumber, normalise_number
from crm.errors import InvalidInputError, NotFoundError
from crm.services.common import audit, transaction
from crm.services.customers import ConflictPolicy, ensure_tags, number_owners
from crm.services.dnc import scope_of
from crm.services.import_report import ColumnMapping, RowResult, Status


@dataclass
class _Parsed:
    row: int
    name: str
    phone: NormalisedNumber
    alt: NormalisedNumber | None
    email: str | None
    tags: list[str]
    priority: int
    timezone: str | None
    agent: str | None
    external_ref: str | None


class LeadImporter:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], default_region: str, batch_size: int
    ) -> None:
        self._sessions = sessions
        self._region = default_region
        self._batch = batch_size

    async def run(
        self,
        campaign_id: uuid.UUID,
        rows: Iterable[Mapping[str, Any]],
        *,
        mapping: Mapping[str, str] | None = None,
        policy: ConflictPolicy = ConflictPolicy.MERGE,
        actor_id: uuid.UUID | None = None,
    ) -> AsyncIterator[RowResult]:
        """Yield one :class:`RowResult` per source row, in order; one commit per batch."""
        async with self._sessions() as s:
            if await s.get(Campaign, campaign_id) is None:
                raise NotFoundError("campaign", campaign_id)
        it = iter(rows)  # reading the file and parsing its rows: in a worker thread, a batch
        first = await asyncio.to_thread(next, it, None)  # at a time (a big CSV must not stall
        if first is None:                                # the event loop)
            return
        columns = _Columns(first, mapping)
        seen: dict[str, int] = {}
        numbered = enumerate(_chain(first, it), start=1)
        while batch := await asyncio.to_thread(_take, numbered, self._batch):
            checked = await asyncio.to_thread(self._check_batch, batch, columns, seen)
            for result in await self._run_batch(campaign_id, batch, checked, policy, actor_id):
                yield result

    def _check_batch(
        self, batch: Sequence[tuple[int, Any]], columns: _Columns, seen: dict[str, int]
    ) -> tuple[dict[int, RowResult], list[_Parsed]]:
        """Each row parsed and checked (no I/O): the rejected ones, and the ones to write."""
        results: dict[int, RowResult] = {}
        parsed: list[_Parsed] = []
        for n, raw in batch:
            cols = columns.for_row(raw)
            outcome = (
                RowResult(n, "rejected", "missing_phone", "phone")
                if cols is None
                else self._parse(n, raw, cols, seen)
            )
            if isinstance(outcome, RowResult):
                results[n] = outcome
            else:
                parsed.append(outcome)
        return results, parsed

    async def _run_batch(
        self,
        campaign_id: uuid.UUID,
        batch: Sequence[tuple[int, Any]],
        checked: tuple[dict[int, RowResult], list[_Parsed]],
        policy: ConflictPolicy,
        actor_id: uuid.UUID | None,
    ) -> list[RowResult]:
        results, parsed = checked
        async with transaction(self._sessions) as s:
            for r in await _BatchWriter(s, campaign_id, policy).write(parsed):
                results[r.row] = r
            audit(
                s,
                actor_id,
                "leads.imported",
                "campaign",
                campaign_id,
                {
                    "rows": [batch[0][0], batch[-1][0]],
                    "created": sum(r.status == "created" for r in results.values()),
                },
            )
        return [results[n] for n, _ in batch]

    def _parse(
        self, n: int, raw: Any, cols: ColumnMapping, seen: dict[str, int]
    ) -> _Parsed | RowResult:
        if not isinstance(raw, Mapping):
            return RowResult(n, "rejected", "not_an_object", "row")
        try:
            phone_raw = cols.get(raw, "phone")
            if not phone_raw:
                return RowResult(n, "rejected", "missing_phone", "phone")
            phone = normalise_number(phone_raw, self._region, field="phone")
            alt_raw = cols.get(raw, "alt_phone")
            alt = normalise_number(alt_raw, self._region, field="alt_phone") if alt_raw else None
            priority = _int(cols.get(raw, "priority"), "priority")
            zone = _zone(cols.get(raw, "timezone"))
            for name, limit in (("email", 254), ("external_ref", 128), ("agent", 64)):
                if len(cols.get(raw, name)) > limit:
                    raise InvalidInputError(name, f"longer than {limit}")
        except InvalidInputError as exc:
            return RowResult(n, "rejected", exc.error_id, exc.field)
        first = seen.get(phone.e164)
        if first is not None:
            return RowResult(n, "rejected", f"duplicate_in_file:row {first}", "phone", phone.e164)
        seen[phone.e164] = n
        if alt is not None:
            alt = None if alt.e164 == phone.e164 else alt
            if alt is not None:
                seen.setdefault(alt.e164, n)
        name = clean_display_name(cols.get(raw, "name"))[:200] or phone.national
        tags = [
            t
            for t in (
                clean_display_name(x)[:64]
                for x in cols.get(raw, "tags").replace("|", ";").replace(",", ";").split(";")
            )
            if t
        ]
        return _Parsed(
            n,
            name,
            phone,
            alt,
            cols.get(raw, "email") or None,
            tags,
            priority,
            zone,
            cols.get(raw, "agent") or None,
            cols.get(raw, "external_ref") or None,
        )


class _Columns:
    """The column mapping for each row. A CSV has one header; JSON records may each carry
    different keys, so a record with keys the first one lacked gets its own mapping (cached
    per key set). The first row's mapping must find a phone column (else the import fails
    with the columns it saw); a later record whose keys hold no phone is rejected alone."""

    _CACHE = 256

    def __init__(self, first: Any, explicit: Mapping[str, str] | None) -> None:
        self._explicit = explicit
        keys = frozenset(first.keys()) if isinstance(first, Mapping) else frozenset()
        self._by_keys: dict[frozenset[str], ColumnMapping | None] = {
            keys: ColumnMapping.resolve(keys, explicit)
        }
        self._first_keys = keys

    def for_row(self, raw: Any) -> ColumnMapping | None:
        if not isinstance(raw, Mapping):
            return self._by_keys[self._first_keys]
        keys = frozenset(k for k in raw if isinstance(k, str))
        if keys <= self._first_keys:
            return self._by_keys[self._first_keys]
        if keys not in self._by_keys:
            if len(self._by_keys) >= self._CACHE:
                self._by_keys = {self._first_keys: self._by_keys[self._first_keys]}
            try:
                self._by_keys[keys] = ColumnMapping.resolve(keys, self._explicit)
            except InvalidInputError:
                self._by_keys[keys] = None
        return self._by_keys[keys]


def _chain(first: Any, rest: Iterable[Any]) -> Iterable[Any]:
    yield first
    yield from rest


def _int(value: str, field_name: str) -> int:
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        raise InvalidInputError(field_name, "not an integer") from None


def _zone(value: str) -> str | None:
    if not value:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError("timezone", "unknown time zone") from None
    return value


class _BatchWriter:
    """Writes one batch of parsed rows inside one transaction."""

    def __init__(self, s: AsyncSession, campaign_id: uuid.UUID, policy: ConflictPolicy) -> None:
        self.s, self.campaign_id, self.policy = s, campaign_id, policy

    async def write(self, rows: list[_Parsed]) -> list[RowResult]:
        if not rows:
            return []
        numbers = {r.phone.e164 for r in rows} | {r.alt.e164 for r in rows if r.alt}
        owners = await number_owners(self.s, numbers)
        merged_into = await self._surviving(set(owners.values()))
        owners = {e: merged_into.get(c, c) for e, c in owners.items()}
        in_campaign = set(
            await self.s.scalars(
                sa.select(col(Lead.phone_e164)).where(
                    col(Lead.campaign_id) == self.campaign_id,
                    col(Lead.phone_e164).in_(list(numbers)),
                )
            )
        )
        dnc = set(
            await self.s.scalars(
                sa.select(col(DncEntry.e164)).where(
                    col(DncEntry.e164).in_(list(numbers)),
                    col(DncEntry.scope).in_(["*", scope_of(self.campaign_id)]),
                )
            )
        )
        agents = await self._agents({r.agent for r in rows if r.agent})
        results = [self._one(r, owners, in_campaign, dnc, agents) for r in rows]
        await self._link_tags(rows, results)
        await self.s.flush()
        return results

    async def _surviving(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        if not ids:
            return {}
        rows = await self.s.execute(
            sa.select(col(Customer.id), col(Customer.merged_into_id)).where(
                col(Customer.id).in_(list(ids)), col(Customer.merged_into_id).is_not(None)
            )
        )
        return {cid: target for cid, target in rows.all() if target is not None}

    async def _agents(self, names: set[str]) -> dict[str, uuid.UUID]:
        if not names:
            return {}
        rows = await self.s.execute(
            sa.select(col(User.username), col(User.id)).where(col(User.username).in_(list(names)))
        )
        return {u: i for u, i in rows.all()}

    def _one(
        self,
        r: _Parsed,
        owners: dict[str, uuid.UUID],
        in_campaign: set[str],
        dnc: set[str],
        agents: dict[str, uuid.UUID],
    ) -> RowResult:
        e164 = r.phone.e164
        if e164 in in_campaign:
            return RowResult(r.row, "rejected", "already_in_campaign", "phone", e164)
        if e164 in dnc:
            return RowResult(r.row, "rejected", "dnc", "phone", e164)
        if r.agent and r.agent not in agents:
            return RowResult(r.row, "rejected", "unknown_agent", "agent", e164)
        mine = {owners[n.e164] for n in (r.phone, r.alt) if n and n.e164 in owners}
        if len(mine) > 1 or (mine and self.policy is ConflictPolicy.REPORT):
            return RowResult(r.row, "rejected", "number_conflict", "phone", e164)
        status: Status = "merged" if mine else "created"
        customer_id = next(iter(mine)) if mine else self._new_customer(r)
        for n in (r.phone, r.alt):
            if n is not None and n.e164 not in owners:
                self.s.add(
                    PhoneNumber(
                        customer_id=customer_id,
                        e164=n.e164,
                        number_type=n.number_type.value,
                        raw=n.national,
                    )
                )
                owners[n.e164] = customer_id
        lead = Lead(
            campaign_id=self.campaign_id,
            customer_id=customer_id,
            phone_e164=e164,
            priority=r.priority,
            timezone=r.timezone,
            agent_id=agents.get(r.agent) if r.agent else None,
        )
        self.s.add(lead)
        in_campaign.add(e164)
        return RowResult(r.row, status, None, None, e164, customer_id, lead.id)

    def _new_customer(self, r: _Parsed) -> uuid.UUID:
        customer = Customer(
            name=r.name,
            name_key=name_key(r.name),
            email=r.email,
            timezone=r.timezone,
            external_ref=r.external_ref,
        )
        self.s.add(customer)
        return customer.id

    async def _link_tags(self, rows: list[_Parsed], results: list[RowResult]) -> None:
        wanted = {
            (res.customer_id, name_key(t)): t
            for r, res in zip(rows, results, strict=True)
            if res.customer_id
            for t in r.tags
        }
        if not wanted:
            return
        await self.s.flush()
        tags = {t.name_key: t.id for t in await ensure_tags(self.s, wanted.values()) if t.id}
        customers = list({cid for cid, _ in wanted})
        have: set[tuple[uuid.UUID, int]] = set(
            (
                await self.s.execute(
                    sa.select(col(CustomerTag.customer_id), col(CustomerTag.tag_id)).where(
                        col(CustomerTag.customer_id).in_(customers)
                    )
                )
            ).all()
        )
        for cid, key in wanted:
            if (cid, tags[key]) not in have:
                self.s.add(CustomerTag(customer_id=cid, tag_id=tags[key]))
                have.add((cid, tags[key]))


def _take(rows: Iterator[tuple[int, Any]], n: int) -> list[tuple[int, Any]]:
    return list(islice(rows, n))
