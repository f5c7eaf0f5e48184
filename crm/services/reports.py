"""Call reports per campaign, per agent and per day: SQL aggregation over ``calls``.

One grouped query for the figures and one for the dispositions, the same SQL on SQLite and
PostgreSQL (only the local-day expression differs). Days are local days in the CRM's time zone.
Occupancy is known only per agent and per agent-day: talk + wrap time over the span from the
agent's first dial to their last hang-up (the CRM does not see login time), so it is an estimate.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm import spreadsheet
from crm.db.models import Call
from crm.db.models_ops import Campaign, Disposition, User
from crm.errors import InvalidInputError

MAX_DAYS = 366


class GroupBy(StrEnum):
    CAMPAIGN = "campaign"
    AGENT = "agent"
    DAY = "day"


@dataclass(frozen=True)
class ReportFilter:
    start: date  # local days, inclusive
    end: date
    campaign_ids: Sequence[uuid.UUID] | None = None  # None: every campaign
    agent_id: uuid.UUID | None = None

    def check(self) -> None:
        for name, day in (("from", self.start), ("to", self.end)):
            if not date(1970, 1, 2) <= day <= date(9998, 12, 30):
                raise InvalidInputError(name, "date out of range")
        if self.end < self.start:
            raise InvalidInputError("to", "'to' is before 'from'")
        if (self.end - self.start).days >= MAX_DAYS:
            raise InvalidInputError("to", f"a report covers at most {MAX_DAYS} days")


@dataclass
class ReportRow:
    key: str
    label: str
    calls: int = 0
    answered: int = 0  # a human answered (connected or abandoned)
    connects: int = 0
    abandoned: int = 0
    machines: int = 0
    talk_seconds: float = 0.0
    wrap_seconds: float = 0.0
    hold_seconds: float = 0.0  # customers on music on hold
    sales: int = 0
    dispositions: dict[str, int] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def abandon_rate(self) -> float | None:
        return round(self.abandoned / self.answered, 4) if self.answered else None

    @property
    def connect_rate(self) -> float | None:
        return round(self.connects / self.calls, 4) if self.calls else None

    def occupancy(self, known: bool) -> float | None:
        if not known or self.first_at is None or self.last_at is None:
            return None
        span = (self.last_at - self.first_at).total_seconds()
        return round(min(1.0, (self.talk_seconds + self.wrap_seconds) / span), 4) if span else None

    def to_dict(self, occupancy_known: bool) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "calls": self.calls,
            "answered": self.answered, "connects": self.connects, "abandoned": self.abandoned,
            "machines": self.machines, "talk_seconds": round(self.talk_seconds, 1),
            "wrap_seconds": round(self.wrap_seconds, 1),
            "hold_seconds": round(self.hold_seconds, 1), "sales": self.sales,
            "abandon_rate": self.abandon_rate, "connect_rate": self.connect_rate,
            "occupancy": self.occupancy(occupancy_known),
            "dispositions": dict(sorted(self.dispositions.items())),
        }


CSV_COLUMNS = ("key", "label", "calls", "answered", "connects", "abandoned", "machines",
               "talk_seconds", "wrap_seconds", "hold_seconds", "sales", "abandon_rate",
               "connect_rate", "occupancy", "dispositions")


def report_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV with a header row; dispositions as ``code:count`` pairs joined by ``;``."""
    out = io.StringIO()
    writer = spreadsheet.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        values = [r[c] for c in CSV_COLUMNS[:-1]]
        values = ["" if v is None else v for v in values]
        disp = ";".join(f"{k}:{v}" for k, v in r["dispositions"].items())
        writer.writerow([*values, disp])
    return out.getvalue()


def _utc_bounds(f: ReportFilter, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(f.start, time(0), tz).astimezone(UTC)
    end = datetime.combine(f.end + timedelta(days=1), time(0), tz).astimezone(UTC)
    return start, end


def _local_day(dialect: str, zone: str, at: datetime) -> sa.ColumnElement[Any]:
    column = col(Call.originated_at)
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone(zone, column), "YYYY-MM-DD")
    offset = ZoneInfo(zone).utcoffset(at)  # SQLite: the zone's offset at the range start
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return sa.func.strftime("%Y-%m-%d", column, f"{minutes:+d} minutes")


class ReportService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], timezone: str) -> None:
        self._sessions = sessions
        self._tz = timezone

    async def report(self, group: GroupBy, f: ReportFilter) -> list[dict[str, Any]]:
        f.check()
        async with self._sessions() as s:
            dialect = s.get_bind().dialect.name
            start, end = _utc_bounds(f, self._tz)
            key = self._key(group, dialect, start)
            where = self._where(f, start, end)
            rows = await self._figures(s, key, where)
            await self._dispositions(s, key, where, rows)
            await self._labels(s, group, rows)
        ordered = sorted(rows.values(), key=lambda r: (r.label if group is not GroupBy.DAY
                                                        else r.key))
        return [r.to_dict(group is GroupBy.AGENT) for r in ordered]

    async def abandon_rates(self, campaign_ids: Sequence[uuid.UUID],
                            since: datetime) -> dict[str, dict[str, Any]]:
        """Abandons / human answers per campaign since ``since`` (the regulatory window)."""
        outcome = col(Call.outcome)
        stmt = (
            sa.select(col(Call.campaign_id),
                      sa.func.sum(sa.case((outcome.in_(("answered", "abandoned")), 1),
                                          else_=0)),
                      sa.func.sum(sa.case((outcome == "abandoned", 1), else_=0)))
            .where(col(Call.campaign_id).in_(list(campaign_ids)),
                   col(Call.originated_at) >= since)
            .group_by(col(Call.campaign_id))
        )
        found: dict[str, dict[str, Any]] = {
            str(i): {"answered": 0, "abandoned": 0, "rate": None} for i in campaign_ids}
        async with self._sessions() as s:
            for campaign_id, answered, abandoned in (await s.execute(stmt)).all():
                answered, abandoned = int(answered or 0), int(abandoned or 0)
                found[str(campaign_id)] = {
                    "answered": answered, "abandoned": abandoned,
                    "rate": round(abandoned / answered, 4) if answered else None}
        return found

    def _key(self, group: GroupBy, dialect: str, start: datetime) -> sa.ColumnElement[Any]:
        if group is GroupBy.CAMPAIGN:
            return cast("sa.ColumnElement[Any]", col(Call.campaign_id))
        if group is GroupBy.AGENT:
            return cast("sa.ColumnElement[Any]", col(Call.agent_id))
        return _local_day(dialect, self._tz, start)

    @staticmethod
    def _where(f: ReportFilter, start: datetime, end: datetime) -> list[sa.ColumnElement[bool]]:
        where = [col(Call.originated_at) >= start, col(Call.originated_at) < end]
        if f.campaign_ids is not None:
            where.append(col(Call.campaign_id).in_(list(f.campaign_ids)))
        if f.agent_id is not None:
            where.append(col(Call.agent_id) == f.agent_id)
        return where

    @staticmethod
    async def _figures(s: AsyncSession, key: sa.ColumnElement[Any],
                       where: list[sa.ColumnElement[bool]]) -> dict[str, ReportRow]:
        def count_if(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
            return sa.func.sum(sa.case((cond, 1), else_=0))

        success = sa.select(col(Disposition.code)).where(col(Disposition.is_success).is_(True))
        outcome = col(Call.outcome)
        stmt = (
            sa.select(
                key.label("k"), sa.func.count(),
                count_if(outcome.in_(("answered", "abandoned"))),
                count_if(col(Call.bridged_at).is_not(None)),
                count_if(outcome == "abandoned"), count_if(outcome == "machine"),
                sa.func.sum(sa.func.coalesce(col(Call.talk_seconds), 0.0)),
                sa.func.sum(sa.func.coalesce(col(Call.wrap_seconds), 0.0)),
                sa.func.sum(sa.func.coalesce(col(Call.hold_seconds), 0.0)),
                count_if(col(Call.disposition).in_(success)),
                sa.func.min(col(Call.originated_at)), sa.func.max(col(Call.ended_at)),
            )
            .where(*where)
            .group_by(key)
        )
        rows: dict[str, ReportRow] = {}
        for k, calls, answered, connects, abandoned, machines, talk, wrap, held, sales, first, \
                last in (await s.execute(stmt)).all():
            name = "" if k is None else _norm(str(k))
            rows[name] = ReportRow(
                key=name, label=name, calls=int(calls), answered=int(answered or 0),
                connects=int(connects or 0), abandoned=int(abandoned or 0),
                machines=int(machines or 0), talk_seconds=float(talk or 0),
                wrap_seconds=float(wrap or 0), hold_seconds=float(held or 0),
                sales=int(sales or 0),
                first_at=_aware(first), last_at=_aware(last))
        return rows

    @staticmethod
    async def _dispositions(s: AsyncSession, key: sa.ColumnElement[Any],
                            where: list[sa.ColumnElement[bool]],
                            rows: dict[str, ReportRow]) -> None:
        stmt = (
            sa.select(key.label("k"), col(Call.disposition), sa.func.count())
            .where(*where, col(Call.disposition).is_not(None))
            .group_by(key, col(Call.disposition))
        )
        for k, disposition, count in (await s.execute(stmt)).all():
            row = rows.get("" if k is None else _norm(str(k)))
            if row is not None:
                row.dispositions[str(disposition)] = int(count)

    @staticmethod
    async def _labels(s: AsyncSession, group: GroupBy, rows: dict[str, ReportRow]) -> None:
        ids = []
        for k in rows:
            try:
                ids.append(uuid.UUID(k))
            except ValueError:
                continue
        if group is GroupBy.DAY or not ids:
            if group is not GroupBy.DAY:
                for row in rows.values():
                    row.label = row.label or "(none)"
            return
        model: Any = Campaign if group is GroupBy.CAMPAIGN else User
        name = col(Campaign.name) if group is GroupBy.CAMPAIGN else col(User.username)
        found = {str(i): str(n) for i, n in (await s.execute(
            sa.select(model.id, name).where(model.id.in_(ids)))).all()}
        for row in rows.values():
            row.label = found.get(row.key, row.key or "(none)")


def _norm(key: str) -> str:
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return key


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite min()/max() of the stored text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
