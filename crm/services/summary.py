"""The screen-pop summary of a customer: only the essentials, in a handful of indexed queries
that read plain columns (no ORM objects), for one customer or a burst of them at once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Call, Customer, CustomerTag, Note, PhoneNumber, Tag, Task
from crm.db.models_conversion import CustomerRoute
from crm.db.models_ops import ScriptTemplate
from crm.domain.enums import Language, TaskStatus
from crm.domain.scripts import ScriptCandidate, recommend_script
from crm.errors import NotFoundError
from crm.services.customers import tags_of

SummaryKey = tuple[uuid.UUID, Language, uuid.UUID | None]  # customer, language, campaign


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class SummaryService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def customer_summary(
        self,
        customer_id: uuid.UUID,
        *,
        language: Language = Language.ZH,
        campaign_id: uuid.UUID | None = None,
        contacts: int = 5,
        tasks: int = 10,
    ) -> dict[str, Any]:
        """The pop's essentials; the script is chosen among every campaign's scripts and
        ``campaign_id``'s (the call's campaign) only."""
        return (await self.customer_summary_and_scripts(
            customer_id, language=language, campaign_id=campaign_id, contacts=contacts,
            tasks=tasks))[0]

    async def customer_summary_and_scripts(
        self,
        customer_id: uuid.UUID,
        *,
        language: Language = Language.ZH,
        campaign_id: uuid.UUID | None = None,
        contacts: int = 5,
        tasks: int = 10,
    ) -> tuple[dict[str, Any], Sequence[Any] | None]:
        """:meth:`customer_summary`, in one query, and the scripts it chose among (the pre-call
        rules pick theirs there too: no second read); None when they were not read at once
        (a merged customer takes the general path)."""
        key = (customer_id, language, campaign_id)
        async with self._sessions() as s:
            one = await _one_customer(s, customer_id, campaign_id, contacts, tasks)
        if one is None:  # unknown, or merged into another: the general path follows it
            found = await self.customer_summaries([key], contacts=contacts, tasks=tasks)
            if key not in found:
                raise NotFoundError("customer", customer_id)
            return found[key], None
        summary, templates = one
        summary["recommended_script"] = _script(templates, summary["tags"], language)
        return summary, templates

    async def customer_summaries(
        self,
        keys: Sequence[SummaryKey],
        *,
        contacts: int = 5,
        tasks: int = 10,
    ) -> dict[SummaryKey, dict[str, Any]]:
        """The summaries of many (customer, language, campaign) keys (a burst of pops) from
        one query set, whatever their number: customers with their routes, numbers, tags,
        recent calls, open tasks, scripts (only the script depends on the language and the
        campaign). A merged customer's is its survivor's summary; unknown customers are left
        out. Plain column reads, no ORM objects."""
        wanted = list(dict.fromkeys(k[0] for k in keys))
        if not wanted:
            return {}
        async with self._sessions() as s:
            survivor, rows = await _customers(s, wanted)
            ids = list(rows)
            if not ids:
                return {}
            numbers = await _numbers(s, ids)
            tags = await tags_of(s, ids)
            calls = await _recent_calls(s, ids, contacts)
            open_tasks = await _open_tasks(s, ids, tasks)
            notes = await _recent_notes(s, ids, NOTES)
            templates = await _active_scripts(s, {k[2] for k in keys})
        out: dict[SummaryKey, dict[str, Any]] = {}
        for key in dict.fromkeys(keys):
            requested, language, campaign_id = key
            cid = survivor.get(requested)
            if cid is None:
                continue
            c = rows[cid]
            scripts = [t for t in templates if t.campaign_id in (None, campaign_id)]
            out[key] = {
                "customer_id": str(cid),
                "requested_id": str(requested),
                "name": c.name,
                "last_call_time": _iso(c.last_call_time),
                "numbers": numbers.get(cid, []),
                "tags": tags[cid],
                "recent_contacts": calls.get(cid, []),
                "open_tasks": open_tasks.get(cid, []),
                "recent_notes": notes.get(cid, []),  # a note saved in a call, at the next pop
                "recommended_script": _script(scripts, tags[cid], language),
                "conversion": None if c.route is None else {  # the conversion routing's verdict
                    "route": c.route, "p_convert": c.p_convert, "reason": c.reason,
                    "overridden": c.override_route is not None},
            }
        return out

def _script(
    rows: Sequence[Any], tags: list[str], language: Language
) -> dict[str, Any] | None:
    candidates = [
        ScriptCandidate(
            id=str(r.id),
            name=r.name,
            language=r.language,
            tags=frozenset(r.tags or []),
            priority=r.priority,
            body=r.body,
        )
        for r in rows
    ]
    best = recommend_script(candidates, tags, language.value)
    if best is None:
        return None
    return {
        "id": best.id,
        "name": best.name,
        "language": best.language,
        "body": best.body,
        "matched_tags": sorted(
            {t for t in best.tags if t.casefold() in {x.casefold() for x in tags}}
        ),
    }


async def _active_scripts(s: AsyncSession, campaigns: set[uuid.UUID | None]) -> Sequence[Any]:
    """Every campaign's active scripts and those of ``campaigns`` (the pops' campaigns): what
    :func:`~crm.services.reference.scripts_of` allows each of them, for all at once."""
    ids = [c for c in campaigns if c is not None]
    return (await s.execute(_SCRIPTS[bool(ids)], {"campaigns": ids} if ids else {})).all()


def _scripts_query(of_campaigns: bool) -> Any:
    t = ScriptTemplate
    which = (sa.or_(col(t.campaign_id).is_(None),
                    col(t.campaign_id).in_(sa.bindparam("campaigns", expanding=True)))
             if of_campaigns else col(t.campaign_id).is_(None))
    return sa.select(col(t.id), col(t.name), col(t.language), col(t.tags), col(t.priority),
                     col(t.body), col(t.campaign_id)).where(col(t.active).is_(True), which)


_SCRIPTS = {False: _scripts_query(False), True: _scripts_query(True)}  # built once


async def _customers(
    s: AsyncSession, wanted: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, uuid.UUID], dict[uuid.UUID, Any]]:
    """(requested id → surviving id, surviving id → its row with its route), following
    ``merged_into`` as :func:`resolve_customer` does (at most 8 hops)."""
    c, r = Customer, CustomerRoute
    stmt = (sa.select(col(c.id), col(c.name), col(c.last_call_time), col(c.merged_into_id),
                      col(r.route), col(r.p_convert), col(r.reason), col(r.override_route))
            .outerjoin(r, col(r.customer_id) == col(c.id)))
    rows: dict[uuid.UUID, Any] = {}
    pending = {cid: cid for cid in wanted}  # requested → the id to look at next
    survivor: dict[uuid.UUID, uuid.UUID] = {}
    for _ in range(8):
        look = [cid for cid in set(pending.values()) if cid not in rows]
        if look:
            for found in (await s.execute(stmt.where(col(c.id).in_(look)))).all():
                rows[found.id] = found
        following: dict[uuid.UUID, uuid.UUID] = {}
        for requested, cid in pending.items():
            row = rows.get(cid)
            if row is None:
                continue
            if row.merged_into_id is None:
                survivor[requested] = cid
            else:
                following[requested] = row.merged_into_id
        pending = following
        if not pending:
            break
    return survivor, {cid: rows[cid] for cid in set(survivor.values())}


async def _numbers(s: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    n = PhoneNumber
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (await s.execute(
            sa.select(col(n.customer_id), col(n.e164), col(n.number_type), col(n.raw))
            .where(col(n.customer_id).in_(ids)).order_by(col(n.created_at)))).all():
        found.setdefault(row.customer_id, []).append(
            {"e164": row.e164, "type": row.number_type, "national": row.raw})
    return found


def _first_n(ids: list[uuid.UUID], key: Any, order: list[Any], n: int, *cols: Any,
             where: Any = None) -> Any:
    """``cols`` of the first ``n`` rows per customer in ``order``: a plain LIMIT for one
    customer (the index answers it), a window (row_number per customer) for many."""
    where = sa.true() if where is None else where
    if len(ids) == 1:
        return sa.select(*cols).where(key == ids[0], where).order_by(*order).limit(n)
    ranked = sa.select(*cols, sa.func.row_number().over(partition_by=key, order_by=order)
                       .label("rank")).where(key.in_(ids), where).subquery()
    return sa.select(*(ranked.c[c.key] for c in cols)).where(ranked.c.rank <= n).order_by(
        ranked.c[key.key], ranked.c.rank)


async def _recent_calls(
    s: AsyncSession, ids: list[uuid.UUID], n: int
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    c = Call
    order = [col(c.originated_at).desc().nulls_last(), col(c.last_event_at).desc().nulls_last(),
             col(c.call_id)]  # ties (no origination time) in a stable order
    stmt = _first_n(ids, col(c.customer_id), order, n,
                    col(c.customer_id), col(c.call_id), col(c.originated_at),
                    col(c.last_event_at), col(c.state), col(c.outcome), col(c.disposition),
                    col(c.talk_seconds), col(c.intent_score), col(c.agent_id))
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (await s.execute(stmt)).all():
        found.setdefault(row.customer_id, []).append(_contact(row))
    return found


async def _open_tasks(
    s: AsyncSession, ids: list[uuid.UUID], n: int
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    t = Task
    stmt = _first_n(ids, col(t.customer_id),
                    [col(t.due_at).asc().nulls_last(), col(t.priority).desc(), col(t.id)], n,
                    col(t.customer_id), col(t.id), col(t.title), col(t.due_at), col(t.priority),
                    col(t.origin), where=col(t.status) == TaskStatus.OPEN.value)
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (await s.execute(stmt)).all():
        found.setdefault(row.customer_id, []).append(_task(row))
    return found


NOTES = 3  # the customer's latest notes in a pop (issue 13: a note saved in a call comes back)


async def _recent_notes(
    s: AsyncSession, ids: list[uuid.UUID], n: int
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    stmt = _first_n(ids, col(Note.customer_id), [col(Note.created_at).desc(), col(Note.id)], n,
                    col(Note.customer_id), col(Note.id), col(Note.body), col(Note.created_at),
                    col(Note.call_id))
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (await s.execute(stmt)).all():
        found.setdefault(row.customer_id, []).append(_note(row))
    return found


def _note(n: Any) -> dict[str, Any]:
    return {"id": str(n.id), "body": n.body, "at": _iso(n.created_at), "call_id": n.call_id}


def _contact(c: Any) -> dict[str, Any]:
    return {
        "call_id": c.call_id,
        "at": _iso(c.originated_at or c.last_event_at),
        "state": c.state,
        "outcome": c.outcome,
        "disposition": c.disposition,
        "talk_seconds": c.talk_seconds,
        "intent_score": c.intent_score,
        "agent_id": str(c.agent_id) if c.agent_id else None,
    }


def _task(t: Any) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "title": t.title,
        "due_at": _iso(t.due_at),
        "priority": t.priority,
        "origin": t.origin,
    }


# ---- one customer in one query (GET /api/customers/{id}, a cold pop) ---------------------------
def _json_list(dialect: str, sub: Any, **fields: Any) -> Any:
    """A scalar subquery: the rows of ``sub`` (ordered, limited) as one JSON array of objects."""
    pairs = [x for name, column in fields.items() for x in (sa.literal(name), sub.c[column])]
    agg: Any
    if dialect == "postgresql":
        agg = sa.func.coalesce(sa.func.json_agg(sa.func.json_build_object(*pairs)),
                               sa.text("'[]'::json"))
    else:
        agg = sa.func.json_group_array(sa.func.json_object(*pairs))
    return sa.select(agg).select_from(sub).scalar_subquery()


async def _one_customer(
    s: AsyncSession, customer_id: uuid.UUID, campaign_id: uuid.UUID | None, contacts: int,
    tasks: int,
) -> tuple[dict[str, Any], list[Any]] | None:
    """The summary (but the script) of one customer in one round trip: its row and route,
    with numbers, tags, recent calls and open tasks as JSON arrays (SQLite's json_group_array,
    PostgreSQL's json_agg). None for an unknown or merged customer."""
    dialect = s.get_bind().dialect.name
    stmt = _ONE.get((dialect, contacts, tasks))
    if stmt is None:  # built once: building it cost more than running it (the profile)
        stmt = _ONE[dialect, contacts, tasks] = _one_customer_query(dialect, contacts, tasks)
    row = (await s.execute(stmt, {"customer_id": customer_id, "campaign_id": campaign_id})
           ).one_or_none()
    if row is None or row.merged_into_id is not None:
        return None
    *_, numbers_json, tags_json, calls_json, tasks_json, notes_json, scripts_json = row
    scripts = [_JsonRow(x) for x in _loads(scripts_json)]
    return {
        "customer_id": str(row.id),
        "requested_id": str(customer_id),
        "name": row.name,
        "last_call_time": _iso(row.last_call_time),
        "numbers": _loads(numbers_json),
        "tags": _loads(tags_json),
        "recent_contacts": [_contact(_JsonRow(x)) for x in _loads(calls_json)],
        "open_tasks": [_task(_JsonRow(x)) for x in _loads(tasks_json)],
        "recent_notes": [_note(_JsonRow(x)) for x in _loads(notes_json)],
        "recommended_script": None,
        "conversion": None if row.route is None else {
            "route": row.route, "p_convert": row.p_convert, "reason": row.reason,
            "overridden": row.override_route is not None},
    }, scripts


_ONE: dict[tuple[str, int, int], Any] = {}  # (dialect, contacts, tasks) → the statement


def _one_customer_query(dialect: str, contacts: int, tasks: int) -> Any:
    c, r, n, t, k = Customer, CustomerRoute, PhoneNumber, Task, Call
    numbers = (sa.select(col(n.e164), col(n.number_type), col(n.raw))
               .where(col(n.customer_id) == col(c.id)).order_by(col(n.created_at))
               .correlate(Customer).subquery("n"))
    tags = (sa.select(col(Tag.name)).join(CustomerTag, col(CustomerTag.tag_id) == col(Tag.id))
            .where(col(CustomerTag.customer_id) == col(c.id)).order_by(col(Tag.name_key))
            .correlate(Customer).subquery("g"))
    calls = (sa.select(col(k.call_id), col(k.originated_at), col(k.last_event_at), col(k.state),
                       col(k.outcome), col(k.disposition), col(k.talk_seconds),
                       col(k.intent_score), col(k.agent_id))
             .where(col(k.customer_id) == col(c.id))
             .order_by(col(k.originated_at).desc().nulls_last(),
                       col(k.last_event_at).desc().nulls_last(), col(k.call_id))
             .limit(contacts).correlate(Customer).subquery("k"))
    open_tasks = (sa.select(col(t.id), col(t.title), col(t.due_at), col(t.priority),
                            col(t.origin))
                  .where(col(t.customer_id) == col(c.id),
                         col(t.status) == TaskStatus.OPEN.value)
                  .order_by(col(t.due_at).asc().nulls_last(), col(t.priority).desc(),
                            col(t.id))
                  .limit(tasks).correlate(Customer).subquery("t"))
    notes = (sa.select(col(Note.id), col(Note.body), col(Note.created_at), col(Note.call_id))
             .where(col(Note.customer_id) == col(c.id))
             .order_by(col(Note.created_at).desc(), col(Note.id))
             .limit(NOTES).correlate(Customer).subquery("o"))
    st = ScriptTemplate  # the active scripts of every campaign and of the pop's campaign
    scripts = (sa.select(col(st.id), col(st.name), col(st.language), col(st.tags),
                         col(st.priority), col(st.body), col(st.campaign_id))
               .where(col(st.active).is_(True), sa.or_(
                   col(st.campaign_id).is_(None),
                   col(st.campaign_id) == sa.bindparam("campaign_id", type_=sa.Uuid())))
               .order_by(col(st.name), col(st.language), col(st.id)).subquery("s"))
    tag_names = (sa.select(sa.func.coalesce(sa.func.json_agg(tags.c.name),
                                            sa.text("'[]'::json")))
                 if dialect == "postgresql" else sa.select(sa.func.json_group_array(tags.c.name)))
    return (sa.select(
        col(c.id), col(c.name), col(c.last_call_time), col(c.merged_into_id),
        col(r.route), col(r.p_convert), col(r.reason), col(r.override_route),
        _json_list(dialect, numbers, e164="e164", type="number_type", national="raw"),
        tag_names.select_from(tags).scalar_subquery(),
        _json_list(dialect, calls, call_id="call_id", originated_at="originated_at",
                   last_event_at="last_event_at", state="state", outcome="outcome",
                   disposition="disposition", talk_seconds="talk_seconds",
                   intent_score="intent_score", agent_id="agent_id"),
        _json_list(dialect, open_tasks, id="id", title="title", due_at="due_at",
                   priority="priority", origin="origin"),
        _json_list(dialect, notes, id="id", body="body", created_at="created_at",
                   call_id="call_id"),
        _json_list(dialect, scripts, id="id", name="name", language="language", tags="tags",
                   priority="priority", body="body", campaign_id="campaign_id"))
        .outerjoin(r, col(r.customer_id) == col(c.id))
        .where(col(c.id) == sa.bindparam("customer_id", type_=sa.Uuid())))


def _loads(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(json.loads(value) if isinstance(value, str | bytes) else value)


class _JsonRow:
    """A row from JSON, read like a column row: times as aware datetimes, ids as UUIDs."""

    TIMES = {"originated_at", "last_event_at", "due_at", "created_at"}
    IDS = {"id", "agent_id", "campaign_id"}
    FLOATS = {"talk_seconds", "intent_score"}

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name)
        if value is None:
            return None
        if name in self.TIMES:
            when = datetime.fromisoformat(value)
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        if name in self.IDS:
            return uuid.UUID(str(value))
        if name in self.FLOATS:
            return float(value)
        if name == "tags" and isinstance(value, str):  # SQLite: the JSON subtype is lost
            return json.loads(value)
        return value
