"""/api/campaigns, leads (incl. the CSV/JSON import) and /api/dnc."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pydantic
from aiohttp import BodyPartReader, MultipartReader, web

from crm.db.models_ops import Campaign, Lead
from crm.domain.access import Principal, may_join_campaign, may_manage
from crm.domain.enums import Role
from crm.errors import (
    AlreadyExistsError,
    CrmError,
    InvalidInputError,
    NumberConflictError,
    PermissionDeniedError,
    TooLargeError,
)
from crm.http import schemas as sc
from crm.http.routing import Ctx, Route, bounded_chunks
from crm.http.views import ok, page_json, row
from crm.services.common import parse_uuid
from crm.services.customers import ConflictPolicy
from crm.services.import_report import ImportSummary, RowResult
from crm.services.import_sources import csv_rows, json_rows

_ROWS_PER_WRITE = 200


async def _campaign(ctx: Ctx, *, manage: bool) -> Campaign:
    campaign = await ctx.service.campaigns.get(
        parse_uuid(ctx.path_param("campaign_id"), "campaign_id")
    )
    if manage or ctx.who.role is Role.MANAGER:
        may_manage(ctx.who, campaign)
    return campaign


async def list_campaigns(ctx: Ctx) -> web.Response:
    q: sc.CampaignQuery = ctx.query
    manager = ctx.who.user_id if ctx.who.role is Role.MANAGER else None
    page = await ctx.service.campaigns.list(
        manager_id=manager, status=q.status, limit=q.limit, offset=q.offset
    )
    return ok(page_json(page))


async def create_campaign(ctx: Ctx) -> web.Response:
    values = sc.set_fields(ctx.body)
    if ctx.who.role is Role.MANAGER:
        if values.get("manager_id", ctx.who.user_id) != ctx.who.user_id:
            raise PermissionDeniedError("managers create campaigns for themselves")
        values["manager_id"] = ctx.who.user_id
    campaign = await ctx.service.campaigns.create(values, actor_id=ctx.who.user_id)
    return ok(row(campaign), 201)


async def get_campaign(ctx: Ctx) -> web.Response:
    return ok(row(await _campaign(ctx, manage=False)))


async def patch_campaign(ctx: Ctx) -> web.Response:
    campaign = await _campaign(ctx, manage=True)
    values = sc.set_fields(ctx.body)
    if "manager_id" in values and not ctx.who.is_admin:
        raise PermissionDeniedError("only an admin reassigns a campaign")
    return ok(
        row(await ctx.service.campaigns.update(campaign.id, values, actor_id=ctx.who.user_id))
    )


def _lead_scope(p: Principal, q: sc.LeadQuery) -> dict[str, Any]:
    scope: dict[str, Any] = {"agent_id": q.agent_id}
    if p.role is Role.AGENT:
        if q.agent_id not in (None, p.user_id):
            raise PermissionDeniedError("agents see only their own leads")
        scope["agent_id"] = p.user_id
    elif p.role is Role.MANAGER:
        scope["manager_id"] = p.user_id
    return scope


async def list_campaign_leads(ctx: Ctx) -> web.Response:
    q: sc.LeadQuery = ctx.query
    campaign = await _campaign(ctx, manage=False)
    if ctx.who.role is Role.AGENT:  # their own leads, of a campaign they are a member of
        may_join_campaign(ctx.who, campaign,
                          member=await ctx.service.members.is_member(campaign.id, ctx.who.user_id))
    page = await ctx.service.campaigns.list_leads(
        campaign_id=campaign.id,
        status=q.status,
        customer_id=q.customer_id,
        limit=q.limit,
        offset=q.offset,
        **_lead_scope(ctx.who, q),
    )
    return ok(page_json(page))


async def list_leads(ctx: Ctx) -> web.Response:
    q: sc.LeadQuery = ctx.query
    page = await ctx.service.campaigns.list_leads(
        status=q.status,
        customer_id=q.customer_id,
        limit=q.limit,
        offset=q.offset,
        **_lead_scope(ctx.who, q),
    )
    return ok(page_json(page))


async def _lead(ctx: Ctx, *, manage: bool) -> Lead:
    lead = await ctx.service.campaigns.get_lead(parse_uuid(ctx.path_param("lead_id"), "lead_id"))
    p = ctx.who
    if p.sees_everything and not (manage and p.role is Role.DIALER):
        return lead
    if not manage and p.role is Role.AGENT and lead.agent_id == p.user_id:
        return lead
    may_manage(p, await ctx.service.campaigns.get(lead.campaign_id))
    return lead


async def get_lead(ctx: Ctx) -> web.Response:
    return ok(row(await _lead(ctx, manage=False)))


async def patch_lead(ctx: Ctx) -> web.Response:
    lead = await _lead(ctx, manage=True)
    updated = await ctx.service.campaigns.update_lead(
        lead.id, sc.set_fields(ctx.body), actor_id=ctx.who.user_id
    )
    return ok(row(updated))


def _row_error(result: RowResult) -> CrmError:
    if result.reason == "number_conflict":
        return NumberConflictError({}, field=result.field or "phone")
    if result.reason in ("already_in_campaign", "dnc"):
        return AlreadyExistsError(
            "lead" if result.reason != "dnc" else "dnc entry", result.field or "phone", result.e164
        )
    return InvalidInputError(result.field or "body", result.reason or "rejected")


async def create_lead(ctx: Ctx) -> web.Response:
    campaign = await _campaign(ctx, manage=True)
    b: sc.LeadIn = ctx.body
    source = {
        k: ";".join(v) if isinstance(v, list) else v
        for k, v in b.model_dump().items()
        if v not in (None, [])
    }
    results = [
        r
        async for r in ctx.service.import_leads(
            campaign.id,
            [source],
            policy=ConflictPolicy.MERGE,
            actor_id=ctx.who.user_id,
            mapping={k: k for k in source},
        )
    ]
    result = results[0]
    if result.status == "rejected":
        raise _row_error(result)
    return ok(result.to_dict(), 201)


async def _spool(chunks: AsyncIterator[bytes], limit: int) -> Path:
    fd, name = tempfile.mkstemp(prefix="crm-import-", suffix=".upload")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLargeError("file", limit)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    if size == 0:
        os.unlink(name)
        raise InvalidInputError("body", "empty upload")
    return Path(name)


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(256 * 1024):
        yield chunk


_FORM_OPTIONS = frozenset(sc.ImportQuery.model_fields)
_MAX_OPTION = 4096  # bytes of a form option (format, mapping, ...)


async def _small_part(part: BodyPartReader) -> bytes:
    """A text part of at most :data:`_MAX_OPTION` bytes, read bounded (413 past it)."""
    buf = bytearray()
    while chunk := await part.read_chunk(_MAX_OPTION):
        buf += chunk
        if len(buf) > _MAX_OPTION:
            raise TooLargeError(part.name or "body", _MAX_OPTION)
    return bytes(part.decode(bytes(buf)))


async def _next_part(reader: MultipartReader) -> Any:
    try:
        return await reader.next()
    except (AssertionError, ValueError, KeyError):  # aiohttp's words for a broken body
        raise InvalidInputError("body", "malformed multipart body") from None


async def _spool_multipart(
    request: web.Request, q: sc.ImportQuery, limit: int
) -> tuple[Path, sc.ImportQuery]:
    """``multipart/form-data``: the file part (``file``) is streamed to disk like a raw body;
    text parts named like the query options (``format``, ``mapping``, ...) override them."""
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise InvalidInputError("body", "malformed multipart body") from None
    options: dict[str, str] = {}
    path: Path | None = None
    try:
        while (part := await _next_part(reader)) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidInputError("body", "nested multipart is not supported")
            if part.name == "file":
                if path is not None:
                    raise InvalidInputError("file", "one file per upload")
                path = await _spool(_part_chunks(part), limit)
            elif part.name in _FORM_OPTIONS:
                options[part.name] = (await _small_part(part)).decode("utf-8", "replace")
            else:
                raise InvalidInputError(part.name or "body", "unknown form field")
        if path is None:
            raise InvalidInputError("file", "a 'file' part is required")
        merged = {**q.model_dump(exclude_none=True), **options}
        try:
            return path, sc.ImportQuery.model_validate(merged)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidInputError(str(first["loc"][0]), first["msg"]) from None
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise


def _mapping(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        mapping = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidInputError("mapping", "mapping must be a JSON object") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise InvalidInputError("mapping", "mapping must map field names to column names")
    return mapping


def _rows(path: Path, q: sc.ImportQuery) -> Iterator[dict[str, Any]]:
    if q.format == "csv":
        return csv_rows(path, encoding=q.encoding, delimiter=q.delimiter)
    return json_rows(path)


async def import_leads(ctx: Ctx) -> web.StreamResponse:
    campaign = await _campaign(ctx, manage=True)
    q: sc.ImportQuery = ctx.query
    limit = ctx.service.settings.max_upload_bytes
    if ctx.request.content_type == "multipart/form-data":  # a browser's file upload
        path, q = await _spool_multipart(ctx.request, q, limit)
    elif ctx.request.content_type == "application/x-www-form-urlencoded":
        raise InvalidInputError("body", "send the file as multipart/form-data or as the raw body")
    else:
        path = await _spool(bounded_chunks(ctx.request, limit, "file", 256 * 1024), limit)
    try:
        mapping = _mapping(q.mapping)
        results = ctx.service.import_leads(
            campaign.id,
            _rows(path, q),
            mapping=mapping,
            policy=ConflictPolicy(q.on_conflict),
            actor_id=ctx.who.user_id,
        )
        first = await anext(results, None)  # mapping / file errors still become a 4xx
        return await _stream_report(ctx.request, campaign.id, first, results)
    finally:
        path.unlink(missing_ok=True)


async def _stream_report(
    request: web.Request,
    campaign_id: uuid.UUID,
    first: RowResult | None,
    rest: AsyncIterator[RowResult],
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)
    await response.write(f'{{"campaign_id": "{campaign_id}", "rows": ['.encode())
    summary, error = ImportSummary(), None
    buffer: list[str] = []

    async def flush() -> None:
        if buffer:
            await response.write(
                (", " if summary.rows > len(buffer) else "").encode() + ", ".join(buffer).encode()
            )
            buffer.clear()

    try:
        result = first
        while result is not None:
            summary.add(result)
            buffer.append(json.dumps(result.to_dict(), ensure_ascii=False))
            if len(buffer) >= _ROWS_PER_WRITE:
                await flush()
            result = await anext(rest, None)
    except CrmError as exc:  # rows before this point are committed
        error = exc.to_dict()
    await flush()
    tail = {"summary": summary.to_dict(), "error": error}
    await response.write(b"], " + json.dumps(tail, ensure_ascii=False)[1:].encode())
    await response.write_eof()
    return response


M = (Role.MANAGER,)
ALL = (Role.AGENT, Role.MANAGER, Role.DIALER)
ROUTES = [
    Route(
        "GET",
        "/api/campaigns",
        list_campaigns,
        "List campaigns (managers: their own)",
        "campaigns",
        (Role.MANAGER, Role.DIALER),
        query=sc.CampaignQuery,
    ),
    Route(
        "POST",
        "/api/campaigns",
        create_campaign,
        "Create a campaign",
        "campaigns",
        M,
        body=sc.CampaignIn,
        responses={201: "created"},
    ),
    Route(
        "GET",
        "/api/campaigns/{campaign_id}",
        get_campaign,
        "Get a campaign",
        "campaigns",
        (Role.MANAGER, Role.DIALER),
    ),
    Route(
        "PATCH",
        "/api/campaigns/{campaign_id}",
        patch_campaign,
        "Update a campaign",
        "campaigns",
        M,
        body=sc.CampaignPatch,
    ),
    Route(
        "GET",
        "/api/campaigns/{campaign_id}/leads",
        list_campaign_leads,
        "List a campaign's leads",
        "leads",
        ALL,
        query=sc.LeadQuery,
    ),
    Route(
        "POST",
        "/api/campaigns/{campaign_id}/leads",
        create_lead,
        "Add one lead (customer found by number or created)",
        "leads",
        M,
        body=sc.LeadIn,
        responses={201: "created or merged", 409: "already in campaign / DNC / conflict"},
    ),
    Route(
        "POST",
        "/api/campaigns/{campaign_id}/leads/import",
        import_leads,
        "Import leads from CSV / JSON / NDJSON (raw body, or the 'file' part of a "
        "multipart/form-data upload), streamed; per-row report",
        "leads",
        M,
        query=sc.ImportQuery,
        raw_body_types=("text/csv", "application/json", "application/x-ndjson",
                        "multipart/form-data"),
        responses={200: "report: {rows: [{row, status, reason, field, ...}], summary, error}"},
    ),
    Route(
        "GET",
        "/api/leads",
        list_leads,
        "List leads (agents: theirs; managers: their campaigns')",
        "leads",
        ALL,
        query=sc.LeadQuery,
    ),
    Route("GET", "/api/leads/{lead_id}", get_lead, "Get a lead", "leads", ALL),
    Route(
        "PATCH", "/api/leads/{lead_id}", patch_lead, "Update a lead", "leads", M, body=sc.LeadPatch
    ),
]
