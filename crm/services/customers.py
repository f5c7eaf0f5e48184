"""Customers, their phone numbers and tags: create / update / search / merge."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Call, Customer, CustomerTag, Note, PhoneNumber, Tag, Task
from crm.db.models_ops import Campaign, Lead, User
from crm.domain.names import MAX_NAME_LENGTH, clean_display_name, like_pattern, name_key
from crm.domain.phones import NormalisedNumber, normalise_number, try_normalise
from crm.errors import InvalidInputError, NotFoundError, NumberConflictError
from crm.ports import Clock
from crm.services.common import Page, audit, paginate, transaction

MAX_TAG_LENGTH = 64


class ConflictPolicy(StrEnum):
    MERGE = "merge"  # add to the customer that already owns the number
    REPORT = "report"  # raise NumberConflictError


@dataclass(frozen=True)
class CustomerInput:
    name: str
    phones: Sequence[str] = ()
    email: str | None = None
    timezone: str | None = None
    tags: Sequence[str] = ()
    external_ref: str | None = None


@dataclass(frozen=True)
class CustomerChanges:
    name: str | None = None
    email: str | None = None
    timezone: str | None = None
    add_phones: Sequence[str] = ()
    remove_phones: Sequence[str] = ()
    add_tags: Sequence[str] = ()
    remove_tags: Sequence[str] = ()


def valid_name(raw: str, field: str = "name") -> str:
    name = clean_display_name(raw or "")
    if not name:
        raise InvalidInputError(field, "name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(field, f"name is longer than {MAX_NAME_LENGTH}")
    return name


def clean_tags(tags: Iterable[str], field: str = "tags") -> list[str]:
    seen: dict[str, str] = {}
    for raw in tags:
        tag = clean_display_name(str(raw))
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise InvalidInputError(field, f"tag must be 1..{MAX_TAG_LENGTH} characters")
        seen.setdefault(name_key(tag), tag)
    return list(seen.values())


async def number_owners(s: AsyncSession, e164s: Iterable[str]) -> dict[str, uuid.UUID]:
    wanted = list(set(e164s))
    if not wanted:
        return {}
    rows = await s.execute(
        sa.select(col(PhoneNumber.e164), col(PhoneNumber.customer_id)).where(
            col(PhoneNumber.e164).in_(wanted)
        )
    )
    return {e164: cid for e164, cid in rows.all()}


async def ensure_tags(s: AsyncSession, names: Iterable[str]) -> list[Tag]:
    wanted = {name_key(n): n for n in names}
    if not wanted:
        return []
    found = {
        t.name_key: t
        for t in await s.scalars(sa.select(Tag).where(col(Tag.name_key).in_(list(wanted))))
    }
    for key, display in wanted.items():
        if key not in found:
            found[key] = Tag(name=display, name_key=key)
            s.add(found[key])
    await s.flush()
    return list(found.values())


async def link_tags(s: AsyncSession, customer_id: uuid.UUID, names: Iterable[str]) -> None:
    tags = await ensure_tags(s, names)
    have = set(
        await s.scalars(
            sa.select(col(CustomerTag.tag_id)).where(col(CustomerTag.customer_id) == customer_id)
        )
    )
    for tag in tags:
        if tag.id is not None and tag.id not in have:
            s.add(CustomerTag(customer_id=customer_id, tag_id=tag.id))


async def resolve_customer(s: AsyncSession, customer_id: uuid.UUID) -> Customer:
    """Load a customer, following ``merged_into`` to the surviving record."""
    for _ in range(8):
        customer = await s.get(Customer, customer_id)
        if customer is None:
            break
        if customer.merged_into_id is None:
            return customer
        customer_id = customer.merged_into_id
    raise NotFoundError("customer", customer_id)


def normalise_all(raws: Sequence[str], region: str, field: str) -> list[NormalisedNumber]:
    result: dict[str, NormalisedNumber] = {}
    for i, raw in enumerate(raws):
        number = normalise_number(raw, region, field=f"{field}[{i}]")
        result.setdefault(number.e164, number)
    return list(result.values())


class CustomerService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, default_region: str
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._region = default_region

    async def create(
        self,
        data: CustomerInput,
        *,
        policy: ConflictPolicy = ConflictPolicy.REPORT,
        actor_id: uuid.UUID | None = None,
    ) -> tuple[Customer, bool]:
        """Create a customer; returns ``(customer, merged)``. A number owned by someone else
        merges into that owner (policy MERGE) or raises :class:`NumberConflictError`."""
        name = valid_name(data.name)
        numbers = normalise_all(data.phones, self._region, "phones")
        tags = clean_tags(data.tags)
        async with transaction(self._sessions) as s:
            owners = await number_owners(s, (n.e164 for n in numbers))
            if owners:
                if policy is ConflictPolicy.REPORT or len(set(owners.values())) > 1:
                    raise NumberConflictError({e: str(c) for e, c in owners.items()})
                target = await resolve_customer(s, next(iter(owners.values())))
                await self._merge_input(s, target, data, numbers, tags, owners)
                audit(
                    s,
                    actor_id,
                    "customer.merged_on_create",
                    "customer",
                    target.id,
                    {"numbers": [n.e164 for n in numbers], "name": name},
                )
                return target, True
            customer = Customer(
                name=name,
                name_key=name_key(name),
                email=data.email,
                timezone=data.timezone,
                external_ref=data.external_ref,
            )
            s.add(customer)
            await s.flush()
            self._add_numbers(s, customer.id, numbers)
            await link_tags(s, customer.id, tags)
            audit(s, actor_id, "customer.created", "customer", customer.id)
            return customer, False

    async def _merge_input(
        self,
        s: AsyncSession,
        target: Customer,
        data: CustomerInput,
        numbers: list[NormalisedNumber],
        tags: list[str],
        owners: dict[str, uuid.UUID],
    ) -> None:
        self._add_numbers(s, target.id, [n for n in numbers if n.e164 not in owners])
        await link_tags(s, target.id, tags)
        target.email = target.email or data.email
        target.timezone = target.timezone or data.timezone
        target.external_ref = target.external_ref or data.external_ref
        target.updated_at = self._clock.now()

    @staticmethod
    def _add_numbers(
        s: AsyncSession, customer_id: uuid.UUID, numbers: Iterable[NormalisedNumber]
    ) -> None:
        for n in numbers:
            s.add(
                PhoneNumber(
                    customer_id=customer_id,
                    e164=n.e164,
                    number_type=n.number_type.value,
                    raw=n.national,
                )
            )

    async def update(
        self, customer_id: uuid.UUID, changes: CustomerChanges, *, actor_id: uuid.UUID | None = None
    ) -> Customer:
        add = normalise_all(changes.add_phones, self._region, "add_phones")
        remove = normalise_all(changes.remove_phones, self._region, "remove_phones")
        add_tags = clean_tags(changes.add_tags, "add_tags")
        remove_keys = [name_key(t) for t in clean_tags(changes.remove_tags, "remove_tags")]
        async with transaction(self._sessions) as s:
            customer = await resolve_customer(s, customer_id)
            if changes.name is not None:
                customer.name = valid_name(changes.name)
                customer.name_key = name_key(customer.name)
            customer.email = changes.email if changes.email is not None else customer.email
            if changes.timezone is not None:
                customer.timezone = changes.timezone
            owners = await number_owners(s, (n.e164 for n in add))
            foreign = {e: str(c) for e, c in owners.items() if c != customer.id}
            if foreign:
                raise NumberConflictError(foreign, field="add_phones")
            self._add_numbers(s, customer.id, [n for n in add if n.e164 not in owners])
            await self._remove_numbers(s, customer.id, [n.e164 for n in remove])
            await link_tags(s, customer.id, add_tags)
            await self._unlink_tags(s, customer.id, remove_keys)
            customer.updated_at = self._clock.now()
            audit(s, actor_id, "customer.updated", "customer", customer.id)
            return customer

    @staticmethod
    async def _remove_numbers(s: AsyncSession, customer_id: uuid.UUID, e164s: list[str]) -> None:
        if e164s:
            await s.execute(
                sa.delete(PhoneNumber).where(
                    col(PhoneNumber.customer_id) == customer_id, col(PhoneNumber.e164).in_(e164s)
                )
            )

    @staticmethod
    async def _unlink_tags(s: AsyncSession, customer_id: uuid.UUID, keys: list[str]) -> None:
        if keys:
            tag_ids = sa.select(col(Tag.id)).where(col(Tag.name_key).in_(keys))
            await s.execute(
                sa.delete(CustomerTag).where(
                    col(CustomerTag.customer_id) == customer_id,
                    col(CustomerTag.tag_id).in_(tag_ids),
                )
            )

    async def get(self, customer_id: uuid.UUID) -> Customer:
        async with self._sessions() as s:
            return await resolve_customer(s, customer_id)

    async def numbers(self, customer_id: uuid.UUID) -> list[PhoneNumber]:
        async with self._sessions() as s:
            customer = await resolve_customer(s, customer_id)
            return list(
                await s.scalars(
                    sa.select(PhoneNumber)
                    .where(col(PhoneNumber.customer_id) == customer.id)
                    .order_by(col(PhoneNumber.created_at))
                )
            )

    async def find_by_number(self, raw: str) -> Customer:
        number = normalise_number(raw, self._region, field="number")
        async with self._sessions() as s:
            owner = await s.scalar(
                sa.select(col(PhoneNumber.customer_id)).where(col(PhoneNumber.e164) == number.e164)
            )
            if owner is None:
                raise NotFoundError("phone number", number.e164)
            return await resolve_customer(s, owner)

    async def search(
        self, *, q: str | None = None, tag: str | None = None, limit: int = 50, offset: int = 0,
        agent_id: uuid.UUID | None = None, owner: str | None = None,
        manager_id: uuid.UUID | None = None,
    ) -> Page[Customer]:
        """By name substring (NFKC + casefold), by number or any part of one (3+ digits), by
        tag, by owner (the username of the agent their leads are assigned to); ordered by name,
        code-point order. ``agent_id``: only the customers that agent may see
        (crm.domain.access: of their own leads and calls, and those no campaign and no call
        holds); ``manager_id``: only those that manager may see (:func:`_managers_scope`)."""
        stmt = sa.select(Customer).where(col(Customer.merged_into_id).is_(None))
        if agent_id is not None:
            leads = sa.select(col(Lead.customer_id))
            calls = sa.select(col(Call.customer_id)).where(col(Call.customer_id).is_not(None))
            stmt = stmt.where(sa.or_(
                col(Customer.id).in_(leads.where(col(Lead.agent_id) == agent_id)),
                col(Customer.id).in_(calls.where(col(Call.agent_id) == agent_id)),
                sa.and_(col(Customer.id).not_in(leads), col(Customer.id).not_in(calls))))
        if manager_id is not None:
            stmt = stmt.where(_managers_scope(manager_id))
        if q and q.strip():
            stmt = stmt.where(sa.or_(col(Customer.name_key).like(like_pattern(q), escape="\\"),
                                     *self._by_number(q)))
        if owner:
            assigned = (sa.select(col(Lead.customer_id))
                        .join(User, col(User.id) == col(Lead.agent_id))
                        .where(col(User.username) == owner.strip()))
            stmt = stmt.where(col(Customer.id).in_(assigned))
        if tag:
            tagged = (
                sa.select(col(CustomerTag.customer_id))
                .join(Tag, col(Tag.id) == col(CustomerTag.tag_id))
                .where(col(Tag.name_key) == name_key(tag))
            )
            stmt = stmt.where(col(Customer.id).in_(tagged))
        stmt = stmt.order_by(col(Customer.name_key), col(Customer.name), col(Customer.id))
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)

    def _by_number(self, q: str) -> list[sa.ColumnElement[bool]]:
        """Conditions matching ``q`` as a whole number (normalised) or a part of one."""
        found: list[sa.ColumnElement[bool]] = []
        number = try_normalise(q, self._region)
        if number is not None:
            found.append(col(Customer.id).in_(sa.select(col(PhoneNumber.customer_id)).where(
                col(PhoneNumber.e164) == number.e164)))
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 3 and len(digits) == len("".join(q.split()).lstrip("+").replace(
                "-", "")):  # only digits (spaces, dashes and a leading + aside)
            parts = {digits, digits.lstrip("0")} - {""}  # 010-6234: the national trunk 0 too
            found.append(col(Customer.id).in_(sa.select(col(PhoneNumber.customer_id)).where(
                sa.or_(*(col(PhoneNumber.e164).contains(p) for p in parts)))))
        return found

    async def numbers_of(self, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        result: dict[uuid.UUID, list[str]] = {cid: [] for cid in customer_ids}
        if not customer_ids:
            return result
        async with self._sessions() as s:
            rows = await s.execute(
                sa.select(col(PhoneNumber.customer_id), col(PhoneNumber.e164))
                .where(col(PhoneNumber.customer_id).in_(list(customer_ids)))
                .order_by(col(PhoneNumber.created_at)))
            for cid, e164 in rows.all():
                result[cid].append(e164)
        return result

    async def tags_of(self, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        async with self._sessions() as s:
            return await tags_of(s, customer_ids)

    async def merge(
        self,
        target_id: uuid.UUID,
        source_ids: Sequence[uuid.UUID],
        *,
        actor_id: uuid.UUID | None = None,
    ) -> Customer:
        """Fold ``source_ids`` into ``target_id``: numbers, calls, tasks, notes, leads and tags
        move; each source keeps a tombstone pointing at the target; one audit entry."""
        if not source_ids:
            raise InvalidInputError("source_ids", "name at least one customer to merge")
        async with transaction(self._sessions) as s:
            target = await resolve_customer(s, target_id)
            sources = [await resolve_customer(s, sid) for sid in source_ids]
            src_ids = list({c.id for c in sources if c.id != target.id})
            if not src_ids:
                raise InvalidInputError("source_ids", "cannot merge a customer into itself")
            moved = await self._move_children(s, target.id, src_ids)
            last = [c.last_call_time for c in [target, *sources] if c.last_call_time]
            target.last_call_time = max(last) if last else None
            for src in sources:
                src.merged_into_id = target.id
                target.email = target.email or src.email
            await s.execute(
                sa.update(Customer)
                .where(col(Customer.merged_into_id).in_(src_ids))
                .values(merged_into_id=target.id)
            )
            target.updated_at = self._clock.now()
            audit(
                s,
                actor_id,
                "customer.merged",
                "customer",
                target.id,
                {"sources": [str(i) for i in src_ids], "moved": moved},
            )
            return target

    @staticmethod
    async def _move_children(
        s: AsyncSession, target: uuid.UUID, sources: list[uuid.UUID]
    ) -> dict[str, int]:
        moved: dict[str, int] = {}
        for name, model in (
            ("numbers", PhoneNumber),
            ("calls", Call),
            ("tasks", Task),
            ("notes", Note),
            ("leads", Lead),
        ):
            table: sa.Table = model.__table__  # type: ignore[union-attr]
            column = table.c.customer_id
            result = await s.execute(
                sa.update(table).where(column.in_(sources)).values(customer_id=target)
            )
            moved[name] = result.rowcount or 0  # type: ignore[attr-defined]
        have = set(
            await s.scalars(
                sa.select(col(CustomerTag.tag_id)).where(col(CustomerTag.customer_id) == target)
            )
        )
        src_tags = set(
            await s.scalars(
                sa.select(col(CustomerTag.tag_id)).where(col(CustomerTag.customer_id).in_(sources))
            )
        )
        await s.execute(sa.delete(CustomerTag).where(col(CustomerTag.customer_id).in_(sources)))
        for tag_id in src_tags - have:
            s.add(CustomerTag(customer_id=target, tag_id=tag_id))
        moved["tags"] = len(src_tags - have)
        return moved


def _managers_scope(manager_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """SQL for crm.domain.access's customer reach, seen by a manager: the customer has a lead
    or a call in a campaign they manage, or a lead or call of theirs, or no lead and no call
    in any managed campaign (shared by every manager)."""
    lead_managers = (sa.select(col(Lead.customer_id))
                     .join(Campaign, col(Campaign.id) == col(Lead.campaign_id)))
    call_managers = (sa.select(col(Call.customer_id))
                     .join(Campaign, col(Campaign.id) == col(Call.campaign_id))
                     .where(col(Call.customer_id).is_not(None)))
    managed = col(Campaign.manager_id).is_not(None)
    return sa.or_(
        col(Customer.id).in_(lead_managers.where(col(Campaign.manager_id) == manager_id)),
        col(Customer.id).in_(call_managers.where(col(Campaign.manager_id) == manager_id)),
        col(Customer.id).in_(sa.select(col(Lead.customer_id)).where(
            col(Lead.agent_id) == manager_id)),
        col(Customer.id).in_(sa.select(col(Call.customer_id)).where(
            col(Call.agent_id) == manager_id, col(Call.customer_id).is_not(None))),
        sa.and_(col(Customer.id).not_in(lead_managers.where(managed)),
                col(Customer.id).not_in(call_managers.where(managed))))


async def tags_of(s: AsyncSession, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    result: dict[uuid.UUID, list[str]] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return result
    rows = await s.execute(
        sa.select(col(CustomerTag.customer_id), col(Tag.name))
        .join(Tag, col(Tag.id) == col(CustomerTag.tag_id))
        .where(col(CustomerTag.customer_id).in_(list(customer_ids)))
        .order_by(col(Tag.name_key))
    )
    for cid, tag in rows.all():
        result[cid].append(tag)
    return result
