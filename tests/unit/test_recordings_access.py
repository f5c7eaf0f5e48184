"""Recordings through the CRM only: encrypted on disk, signed per-user URLs that expire, roles,
and every access (issued, served, refused) in the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crm.crypto import is_encrypted, read_key_id
from crm.db.models import Recording
from crm.db.models_ops import AuditLog
from crm.services.customers import CustomerInput
from tests.helpers.audio import wav


async def call_with_recording(crm_client, crm_service, crm_actors, call_id: str) -> Recording:
    """A call handled by ``agent`` (pushed by the dialer) with a stored recording."""
    resp = await crm_client.post(
        "/api/calls",
        json={
            "event_id": f"{call_id}-end",
            "call_id": call_id,
            "type": "ended",
            "agent_id": str(crm_actors["agent"].user_id),
            "outcome": "answered",
            "talk_seconds": 12.0,
        },
        headers=crm_actors["dialer"].headers,
    )
    assert resp.status == 201
    return await crm_service.store_recording(call_id, wav())


async def audit_rows(crm_service, action: str) -> list[Any]:
    async with crm_service.engine.connect() as conn:
        return list(
            (await conn.execute(sa.select(AuditLog).where(AuditLog.action == action))).all()
        )


async def issue(crm_client, actor, rec_id) -> tuple[int, dict[str, Any]]:
    resp = await crm_client.post(f"/api/recordings/{rec_id}/url", headers=actor.headers)
    return resp.status, await resp.json()


async def test_given_stored_recording_when_reading_disk_then_file_is_encrypted_not_wav(
    crm_client, crm_service, crm_actors, crm_settings
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "enc-1")
    (path,) = [p for p in Path(crm_settings.recordings_dir).rglob("*") if p.is_file()]  # noqa: ASYNC240
    blob = path.read_bytes()
    assert is_encrypted(path) and read_key_id(path) == rec.key_id == "sandbox-1"
    assert b"RIFF" not in blob and b"WAVE" not in blob
    assert path.stem == rec.id.hex and rec.sha256 and rec.size_bytes == len(wav())
    assert await crm_service.recordings.plaintext(rec.id) == wav()
    assert rec.duration_seconds == 0.5


async def test_given_manager_when_url_issued_then_audio_streams_decrypted_and_both_audited(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "ok-1")
    manager = crm_actors["manager"]
    status, body = await issue(crm_client, manager, rec.id)
    assert status == 201 and body["url"].startswith("/recordings/")
    assert str(rec.id) not in body["url"] and "path" not in body["recording"]
    resp = await crm_client.get(body["url"], headers=manager.headers)
    assert resp.status == 200 and resp.content_type == "audio/wav"
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert await resp.read() == wav()
    issued = await audit_rows(crm_service, "recording.url_issued")
    served = await audit_rows(crm_service, "recording.served")
    assert [(r.actor_id, r.entity_id) for r in issued] == [(manager.user_id, str(rec.id))]
    assert [(r.actor_id, r.entity_id) for r in served] == [(manager.user_id, str(rec.id))]


async def test_given_agent_when_fetching_own_call_recording_then_allowed_other_agent_refused(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "own-1")
    resp = await crm_client.get("/api/calls/own-1/recording", headers=crm_actors["agent"].headers)
    body = await resp.json()
    assert resp.status == 200 and body["recording"]["id"] == str(rec.id)
    played = await crm_client.get(body["url"], headers=crm_actors["agent"].headers)
    assert played.status == 200 and await played.read() == wav()

    other = crm_actors["agent2"]
    status, err = await issue(crm_client, other, rec.id)
    assert status == 403 and err["error"] == "forbidden"
    resp = await crm_client.get("/api/calls/own-1/recording", headers=other.headers)
    assert resp.status == 403
    refused = await audit_rows(crm_service, "recording.access_refused")
    assert {(r.actor_id, r.details["reason"]) for r in refused} == {(other.user_id, "forbidden")}
    assert len(refused) == 2


async def test_given_dialer_account_when_asking_for_a_recording_url_then_refused(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "dial-1")
    status, err = await issue(crm_client, crm_actors["dialer"], rec.id)
    assert status == 403 and err["details"]["role"] == "dialer"


async def test_given_url_when_clock_passes_expiry_then_410_with_json_and_audited(
    crm_client, crm_service, crm_actors, crm_clock, crm_settings
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "exp-1")
    manager = crm_actors["manager"]
    _, body = await issue(crm_client, manager, rec.id)
    crm_clock.advance(timedelta(seconds=crm_settings.recording_url_ttl_seconds - 1))
    assert (await crm_client.get(body["url"], headers=manager.headers)).status == 200
    crm_clock.advance(timedelta(seconds=1))
    resp = await crm_client.get(body["url"], headers=manager.headers)
    err = await resp.json()
    assert resp.status == 410 and err["error"] == "url_expired" and "expired_at" in err["details"]
    refused = await audit_rows(crm_service, "recording.access_refused")
    assert [r.details["reason"] for r in refused] == ["url_expired"]


async def test_given_tampered_or_forged_token_when_fetching_then_403_json_and_audited(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "tam-1")
    manager = crm_actors["manager"]
    _, body = await issue(crm_client, manager, rec.id)
    token = body["url"].removeprefix("/recordings/")
    payload, mac = token.split(".")
    flip = "A" if payload[5] != "A" else "B"
    forged = [
        f"{payload[:5]}{flip}{payload[6:]}.{mac}",  # another recording/user/expiry
        f"{payload}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        f"{payload}.",
        "not-a-token",
        uuid.uuid4().hex,
    ]
    for bad in forged:
        resp = await crm_client.get(f"/recordings/{bad}", headers=manager.headers)
        err = await resp.json()
        assert resp.status == 403 and err["error"] == "url_invalid", bad
    refused = await audit_rows(crm_service, "recording.access_refused")
    assert len(refused) == len(forged)
    assert {r.details["reason"] for r in refused} == {"url_invalid"}


async def test_given_url_issued_to_manager_when_someone_else_uses_it_then_refused(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "steal-1")
    _, body = await issue(crm_client, crm_actors["manager"], rec.id)
    for thief in ("admin", "agent"):  # even the call's own agent needs their own URL
        resp = await crm_client.get(body["url"], headers=crm_actors[thief].headers)
        assert resp.status == 403 and (await resp.json())["error"] == "url_invalid", thief
    assert (await crm_client.get(body["url"])).status == 401  # no credentials at all
    refused = await audit_rows(crm_service, "recording.access_refused")
    assert {r.details["reason"] for r in refused} == {"other_user"}


async def test_given_agent_when_calling_manager_only_privacy_endpoints_then_403(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "mgr-1")
    campaign = await crm_service.campaigns.create({"name": "retention-c"})
    customer, _ = await crm_service.customers.create(
        CustomerInput(name="王五", phones=["13800138011"])
    )
    agent = crm_actors["agent"].headers
    calls = [
        ("GET", f"/api/campaigns/{campaign.id}/retention", None),
        ("PUT", f"/api/campaigns/{campaign.id}/retention", {"retention_days": 1}),
        ("POST", "/api/admin/recordings/sweep", None),
        ("GET", f"/api/customers/{customer.id}/export", None),
        ("POST", f"/api/customers/{customer.id}/erase", {}),
        ("DELETE", f"/api/customers/{customer.id}?erase=true", None),
    ]
    for method, url, body in calls:
        resp = await crm_client.request(method, url, json=body, headers=agent)
        assert resp.status == 403 and (await resp.json())["error"] == "forbidden", url
    assert (await crm_service.recordings.get(rec.id)).purged_at is None


async def test_given_call_json_when_read_then_recording_url_is_the_api_never_a_path(
    crm_client, crm_service, crm_actors
):
    await call_with_recording(crm_client, crm_service, crm_actors, "url-1")
    dialer = crm_actors["dialer"].headers
    await crm_client.post(
        "/api/calls",
        json={
            "event_id": "p-1",
            "call_id": "url-2",
            "type": "recording_ready",
            "recording_url": "/var/spool/asterisk/recording/url-2.wav",
        },
        headers=dialer,
    )
    manager = crm_actors["manager"].headers
    one = await (await crm_client.get("/api/calls/url-1", headers=manager)).json()
    assert one["recording_url"] == "/api/calls/url-1/recording"
    two = await (await crm_client.get("/api/calls/url-2", headers=manager)).json()
    assert two["recording_url"] is None
    listed = await (await crm_client.get("/api/calls", headers=manager)).json()
    assert "/var/spool" not in str(listed) and "recordings/" not in str(listed)
    missing = await crm_client.get("/api/calls/url-2/recording", headers=manager)
    assert missing.status == 404


async def test_given_purged_recording_when_asking_for_url_then_410(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "gone-1")
    _, body = await issue(crm_client, crm_actors["manager"], rec.id)
    async with crm_service.engine.begin() as conn:
        row = (await conn.execute(sa.select(Recording.path).where(Recording.id == rec.id))).one()
        Path(row.path).unlink()  # noqa: ASYNC240
        await conn.execute(
            sa.update(Recording)
            .where(Recording.id == rec.id)
            .values(purged_at=crm_service.clock.now(), purge_reason="retention", path="")
        )
    status, err = await issue(crm_client, crm_actors["manager"], rec.id)
    assert status == 410 and err["error"] == "recording_purged"
    resp = await crm_client.get(body["url"], headers=crm_actors["manager"].headers)
    assert resp.status == 410


async def test_given_upload_over_http_when_streamed_then_stored_encrypted_with_plain_checksum(
    crm_client, crm_service, crm_actors
):
    import hashlib

    audio = wav(3.0)
    dialer = crm_actors["dialer"].headers
    resp = await crm_client.put(
        "/api/calls/up-1/recording",
        data=audio,
        headers={**dialer, "Content-Type": "audio/wav"},
    )
    body = await resp.json()
    assert resp.status == 201 and body["sha256"] == hashlib.sha256(audio).hexdigest()
    assert body["size_bytes"] == len(audio) and body["duration_seconds"] == 3.0
    assert await crm_service.recordings.plaintext(uuid.UUID(body["id"])) == audio
    empty = await crm_client.put(
        "/api/calls/up-2/recording", data=b"", headers={**dialer, "Content-Type": "audio/wav"}
    )
    assert empty.status == 400 and (await empty.json())["details"]["field"] == "body"
    async with crm_service.engine.connect() as conn:
        assert (await conn.scalar(sa.select(sa.func.count()).select_from(Recording))) == 1


async def test_given_range_request_when_playing_then_206_with_exact_bytes_or_416(
    crm_client, crm_service, crm_actors
):
    rec = await call_with_recording(crm_client, crm_service, crm_actors, "range-1")
    audio, manager = wav(), crm_actors["manager"]
    _, body = await issue(crm_client, manager, rec.id)
    size = len(audio)
    cases = {
        "bytes=0-99": (0, 100),
        f"bytes={size - 10}-": (size - 10, size),
        "bytes=-44": (size - 44, size),
        f"bytes=7000-{size + 500}": (7000, size),
    }
    for header, (start, stop) in cases.items():
        resp = await crm_client.get(body["url"], headers={**manager.headers, "Range": header})
        assert resp.status == 206, header
        assert resp.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}", header
        assert await resp.read() == audio[start:stop], header
    whole = await crm_client.get(body["url"], headers={**manager.headers, "Range": "bytes=5-1"})
    assert whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes"
    assert await whole.read() == audio
    beyond = await crm_client.get(
        body["url"], headers={**manager.headers, "Range": f"bytes={size}-"}
    )
    err = await beyond.json()
    assert beyond.status == 416 and err["error"] == "range_not_satisfiable"
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    assert len(await audit_rows(crm_service, "recording.served")) == len(cases) + 1
