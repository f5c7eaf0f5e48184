"""Recordings (signed URLs, playback), retention, and the data-subject rights (export, erasure).

- ``POST /api/recordings/{id}/url`` and ``GET /api/calls/{call_id}/recording`` issue a signed URL
  (managers, admins, the call's agent); ``GET /recordings/{token}`` streams the decrypted audio
  to the user it was issued to, until it expires (410) — a tampered token is refused (403).
- ``GET/PUT /api/campaigns/{id}/retention``; ``POST /api/admin/recordings/sweep`` runs the
  retention sweep now (it also runs periodically in the app).
- ``GET /api/customers/{id}/export`` (managers, admins); ``POST /api/customers/{id}/erase`` and
  ``DELETE /api/customers/{id}?erase=true`` (admins only).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm.crypto import RecordingCryptoError
from crm.domain.access import may_manage, may_manage_customer
from crm.domain.enums import Role
from crm.http._jobs import job_ctx
from crm.http.errors_map import error_response
from crm.http.routing import SERVICE_KEY, Ctx, Route
from crm.http.views import ok
from crm.services.common import parse_uuid
from crm.services.recording_upkeep import sweep_forever
from crm.services.recordings import (
    ByteRange,
    RangeNotSatisfiableError,
    SignedUrl,
    recording_json,
)

log = logging.getLogger(__name__)

MANAGERS = (Role.MANAGER,)
LISTENERS = (Role.AGENT, Role.MANAGER)
ADMIN_ONLY: tuple[Role, ...] = ()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetentionIn(_Strict):
    retention_days: int | None = Field(
        ..., ge=1, le=36500, description="delete recordings after N days; null keeps them"
    )


class EraseIn(_Strict):
    add_to_dnc: bool = Field(
        True, description="put the customer's numbers on the global DNC list (default: yes)"
    )


class EraseQuery(_Strict):
    erase: Literal["true"] = Field(description="must be 'true': DELETE erases the customer")
    add_to_dnc: Literal["true", "false"] = "true"


def _url_json(signed: SignedUrl) -> dict[str, Any]:
    return {
        "url": signed.url,
        "expires_at": signed.expires_at.isoformat(),
        "recording": recording_json(signed.recording),
    }


async def issue_recording_url(ctx: Ctx) -> web.Response:
    signed = await ctx.service.recordings.issue_url(ctx.who, ctx.path_param("recording_id"))
    return ok(_url_json(signed), 201)


async def call_recording(ctx: Ctx) -> web.Response:
    rec = await ctx.service.recordings.for_call(ctx.path_param("call_id"))
    return ok(_url_json(await ctx.service.recordings.issue_url(ctx.who, rec.id)))


async def play_recording(ctx: Ctx) -> web.StreamResponse:
    byte_range = ByteRange.parse(ctx.request.headers.get("Range"))
    try:
        playback = await ctx.service.recordings.open_signed(
            ctx.who, ctx.path_param("token"), byte_range
        )
    except RangeNotSatisfiableError as exc:
        resp = error_response(416, exc.error_id, exc.message, exc.details)
        resp.headers["Content-Range"] = f"bytes */{exc.details['size']}"
        return resp
    rec = playback.recording
    ext = ".wav" if "wav" in rec.content_type else ".bin"
    headers = {
        "Content-Type": rec.content_type,
        "Content-Length": str(rec.size_bytes),
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="recording-{rec.id}{ext}"',
        "Referrer-Policy": "no-referrer",
    }
    status = 200
    if playback.byte_range is not None:
        start, stop = playback.byte_range
        status = 206
        headers["Content-Length"] = str(stop - start)
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{rec.size_bytes}"
    out = web.StreamResponse(status=status, headers=headers)
    await out.prepare(ctx.request)
    try:
        async for data in playback.chunks:
            await out.write(data)
    except ConnectionError:  # the listener went away (seeked, closed the page): not an error
        log.debug("recording %s: client left mid-stream", rec.id)
        return out
    except (RecordingCryptoError, OSError) as exc:  # headers are gone: cut the connection
        log.error("recording %s: stream aborted: %s", rec.id, exc)
        out.force_close()
        return out
    await out.write_eof()
    return out


async def get_retention(ctx: Ctx) -> web.Response:
    campaign = await ctx.service.campaigns.get(_campaign_id(ctx))
    may_manage(ctx.who, campaign)
    return ok({"campaign_id": str(campaign.id), "retention_days": campaign.retention_days})


async def put_retention(ctx: Ctx) -> web.Response:
    b: RetentionIn = ctx.body
    may_manage(ctx.who, await ctx.service.campaigns.get(_campaign_id(ctx)))
    campaign = await ctx.service.recording_upkeep.set_retention(
        _campaign_id(ctx), b.retention_days, actor_id=ctx.who.user_id
    )
    return ok({"campaign_id": str(campaign.id), "retention_days": campaign.retention_days})


async def sweep_now(ctx: Ctx) -> web.Response:
    result = await ctx.service.recording_upkeep.sweep(actor_id=ctx.who.user_id)
    return ok({"purged": result.purged, "campaigns": result.campaigns})


def _campaign_id(ctx: Ctx) -> uuid.UUID:
    return parse_uuid(ctx.path_param("campaign_id"), "campaign_id")


def _customer_id(ctx: Ctx) -> uuid.UUID:
    return parse_uuid(ctx.path_param("customer_id"), "customer_id")


async def export_customer(ctx: Ctx) -> web.Response:
    cid = _customer_id(ctx)
    may_manage_customer(ctx.who, await ctx.service.access.customer(cid))
    doc = await ctx.service.privacy.export(cid, actor_id=ctx.who.user_id)
    resp = ok(doc)
    resp.headers["Content-Disposition"] = f'attachment; filename="customer-{cid}.json"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


async def erase_customer(ctx: Ctx) -> web.Response:
    b: EraseIn = ctx.body
    counts = await ctx.service.privacy.erase(
        _customer_id(ctx), add_to_dnc=b.add_to_dnc, actor_id=ctx.who.user_id
    )
    return ok({"erased": True, "counts": counts})


async def delete_customer(ctx: Ctx) -> web.Response:
    q: EraseQuery = ctx.query
    counts = await ctx.service.privacy.erase(
        _customer_id(ctx), add_to_dnc=q.add_to_dnc == "true", actor_id=ctx.who.user_id
    )
    return ok({"erased": True, "counts": counts})


ROUTES = [
    Route(
        "POST",
        "/api/recordings/{recording_id}/url",
        issue_recording_url,
        "Issue a short-lived signed URL to hear a recording (managers, admins, the call's agent)",
        "recordings",
        LISTENERS,
        responses={201: "issued", 410: "the recording was purged"},
    ),
    Route(
        "GET",
        "/api/calls/{call_id}/recording",
        call_recording,
        "The call's recording (metadata, no path) with a fresh signed URL",
        "recordings",
        LISTENERS,
        responses={200: "metadata and URL", 410: "the recording was purged"},
    ),
    Route(
        "GET",
        "/recordings/{token}",
        play_recording,
        "Stream a recording (decrypted) through a signed URL issued to the caller",
        "recordings",
        LISTENERS,
        responses={
            200: "the audio (audio/wav)",
            206: "part of the audio (Range: bytes=…)",
            416: "range starts beyond the recording",
            403: "tampered token, or issued to another user",
            410: "URL expired or recording purged",
        },
    ),
    Route(
        "GET",
        "/api/campaigns/{campaign_id}/retention",
        get_retention,
        "A campaign's recording retention (days; null keeps them)",
        "recordings",
        MANAGERS,
    ),
    Route(
        "PUT",
        "/api/campaigns/{campaign_id}/retention",
        put_retention,
        "Set a campaign's recording retention (audited)",
        "recordings",
        MANAGERS,
        body=RetentionIn,
    ),
    Route(
        "POST",
        "/api/admin/recordings/sweep",
        sweep_now,
        "Run the recording retention sweep now (admins)",
        "recordings",
        ADMIN_ONLY,
    ),
    Route(
        "GET",
        "/api/customers/{customer_id}/export",
        export_customer,
        "Export everything held about a customer (PIPL access/portability; audited)",
        "privacy",
        MANAGERS,
    ),
    Route(
        "POST",
        "/api/customers/{customer_id}/erase",
        erase_customer,
        "Erase a customer: personal data and recordings deleted, call statistics kept "
        "anonymised, numbers on the DNC list unless add_to_dnc=false (admins; audited)",
        "privacy",
        ADMIN_ONLY,
        body=EraseIn,
    ),
    Route(
        "DELETE",
        "/api/customers/{customer_id}",
        delete_customer,
        "Erase a customer (same as POST …/erase; requires ?erase=true; admins)",
        "privacy",
        ADMIN_ONLY,
        query=EraseQuery,
    ),
]


def retention_sweeper_ctx(
    interval_seconds: int, first_delay: float = 60.0
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running the retention sweep every ``interval_seconds`` (0: never),
    the first run ``first_delay`` seconds after start-up; cancelled on clean-up."""

    async def sweep(app: web.Application) -> None:
        await sweep_forever(app[SERVICE_KEY].recording_upkeep, interval_seconds,
                            min(first_delay, interval_seconds))

    return job_ctx("crm-retention-sweep", sweep if interval_seconds > 0 else None)
