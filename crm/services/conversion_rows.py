"""The CRM's data as :class:`predictive.models.conversion.Customer360` rows (an adapter).

Per customer, from the ``calls`` projection: calls, connects (bridged to an agent), talk time
(total and of the latest connected call), days since the last call, disposition counts,
the mean speech-analysis intent score (0..1, when any call was scored), purchases (calls
with a *success* disposition, e.g. ``sale``); and the customer's tags. The CRM stores no
order values, so ``purchase_value`` is 0.

Training rows look back from a cut-off: features from the calls before it, label = a sale
in the ``label_days`` after it (so a past sale is a feature, never the label itself).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.db.models import Call, Customer, CustomerTag, Tag
from crm.db.models_ops import Disposition, Lead
from predictive.models.conversion import Customer360

NURTURE_TAG = "nurture:low_propensity"  # set by the routing itself: never a feature
PARTITION = 500  # call rows per fetch


@dataclass
class _Acc:
    calls: int = 0
    connects: int = 0
    talk: float = 0.0
    last_at: datetime | None = None
    last_talk_at: datetime | None = None
    last_talk: float = 0.0
    intents: list[float] = field(default_factory=list)
    dispositions: Counter[str] = field(default_factory=Counter)
    purchases: int = 0
    converted: bool = False

    def add(self, at: datetime, bridged: bool, talk: float | None, disposition: str | None,
            intent: float | None, success: bool) -> None:
        self.calls += 1
        if self.last_at is None or at > self.last_at:
            self.last_at = at
        if bridged:
            self.connects += 1
            self.talk += talk or 0.0
            if self.last_talk_at is None or at > self.last_talk_at:
                self.last_talk_at, self.last_talk = at, talk or 0.0
        if intent is not None:
            self.intents.append(intent)
        if disposition:
            self.dispositions[disposition] += 1
            self.purchases += int(success)


async def success_codes(s: AsyncSession) -> set[str]:
    rows = await s.scalars(sa.select(col(Disposition.code)).where(col(Disposition.is_success)))
    return set(rows)


async def customer_rows(
    s: AsyncSession, as_of: datetime, *, label_until: datetime | None = None,
    only_called: bool = False,
) -> list[Customer360]:
    """One row per live (not merged) customer with a lead or a call, features as of
    ``as_of``. With ``label_until``, ``converted`` says whether a sale happened in
    [``as_of``, ``label_until``) and only customers with a call are returned."""
    success = await success_codes(s)
    accs: dict[uuid.UUID, _Acc] = {}
    stmt = sa.select(
        col(Call.customer_id), col(Call.originated_at), col(Call.bridged_at),
        col(Call.talk_seconds), col(Call.disposition), col(Call.intent_score),
    ).where(col(Call.customer_id).is_not(None), col(Call.originated_at).is_not(None))
    if label_until is not None:
        stmt = stmt.where(col(Call.originated_at) < label_until)
    result = await s.stream(stmt)  # in partitions: other tasks run between them
    async for part in result.partitions(PARTITION):
        for cid, at, bridged, talk, disp, intent in part:  # both not null (the WHERE)
            assert cid is not None and at is not None
            acc = accs.setdefault(cid, _Acc())
            if at >= as_of:  # inside the label window: only the label counts
                acc.converted = acc.converted or (disp in success)
                continue
            acc.add(at, bridged is not None, talk, disp, intent, disp in success)
    ids = set(accs)
    if not (only_called or label_until is not None):
        ids |= set(await s.scalars(sa.select(col(Lead.customer_id)).distinct()))
    live = set(await s.scalars(
        sa.select(col(Customer.id)).where(col(Customer.merged_into_id).is_(None))))
    ids &= live
    tags = await _tags(s)
    out = []
    for i, cid in enumerate(sorted(ids, key=str)):
        if i % PARTITION == 0:
            await asyncio.sleep(0)  # a long build must not hold the event loop
        out.append(_row(cid, accs.get(cid) or _Acc(), tags.get(cid, frozenset()), as_of,
                        label_until is not None))
    return out


async def _tags(s: AsyncSession) -> dict[uuid.UUID, frozenset[str]]:
    out: dict[uuid.UUID, set[str]] = {}
    stmt = sa.select(col(CustomerTag.customer_id), col(Tag.name_key)).join(
        Tag, col(Tag.id) == col(CustomerTag.tag_id))
    for cid, name in (await s.execute(stmt)).all():
        if name != NURTURE_TAG:
            out.setdefault(cid, set()).add(name)
    return {k: frozenset(v) for k, v in out.items()}


def _row(cid: uuid.UUID, acc: _Acc, tags: frozenset[str], as_of: datetime,
         labelled: bool) -> Customer360:
    days = (as_of - acc.last_at) / timedelta(days=1) if acc.last_at else math.nan
    return Customer360(
        customer_id=str(cid), calls=acc.calls, connects=acc.connects, total_talk_s=acc.talk,
        last_talk_s=acc.last_talk, days_since_last_contact=days,
        dispositions=dict(acc.dispositions), tags=tags, purchases=acc.purchases,
        purchase_value=0.0,
        intent_score=sum(acc.intents) / len(acc.intents) if acc.intents else None,
        converted=acc.converted if labelled else None,
    )


async def customers_called_since(s: AsyncSession, since: datetime) -> int:
    return int(await s.scalar(
        sa.select(sa.func.count(sa.distinct(col(Call.customer_id))))
        .where(col(Call.originated_at) > since)) or 0)
