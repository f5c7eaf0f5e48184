"""Recording upkeep: the retention sweep (API, CLI, periodic task) and key rotation."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.cli import main as cli_main
from crm.crypto import SANDBOX_KEY, UnknownKeyError, read_key_id
from crm.db.models import Recording
from crm.db.models_ops import AuditLog
from crm.domain.enums import Role
from crm.service import CrmService
from tests.helpers.audio import wav


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def _call(crm_client, crm_actors, call_id: str, campaign_id=None) -> None:
    body = {"event_id": f"{call_id}-e", "call_id": call_id, "type": "ended"}
    if campaign_id is not None:
        body["campaign_id"] = str(campaign_id)
    resp = await crm_client.post("/api/calls", json=body, headers=crm_actors["dialer"].headers)
    assert resp.status == 201


async def _audits(service: CrmService, action: str) -> list:
    async with service.engine.connect() as conn:
        return list(
            (await conn.execute(sa.select(AuditLog).where(AuditLog.action == action))).all()
        )


async def _row(service: CrmService, rec_id) -> Recording:
    return await service.recordings.get(rec_id)


async def test_given_campaign_retention_when_sweeping_then_only_old_recordings_of_it_purged(
    crm_client, crm_service, crm_actors, crm_clock
):
    manager, admin = crm_actors["manager"], crm_actors["admin"]
    kept = await crm_service.campaigns.create({"name": "keep-forever"})
    short = await crm_service.campaigns.create(
        {"name": "thirty-days", "manager_id": manager.user_id})
    resp = await crm_client.put(
        f"/api/campaigns/{short.id}/retention", json={"retention_days": 30}, headers=manager.headers
    )
    assert resp.status == 200 and (await resp.json())["retention_days"] == 30
    for call_id, campaign in (("old-a", short.id), ("old-b", kept.id), ("old-n", None)):
        await _call(crm_client, crm_actors, call_id, campaign)
    old_a = await crm_service.store_recording("old-a", wav())
    old_b = await crm_service.store_recording("old-b", wav())
    old_n = await crm_service.store_recording("old-n", wav())
    crm_clock.advance(timedelta(days=20))
    await _call(crm_client, crm_actors, "new-a", short.id)
    new_a = await crm_service.store_recording("new-a", wav())
    old_a_path = (await _row(crm_service, old_a.id)).path
    crm_clock.advance(timedelta(days=10, seconds=1))  # old-a: 30 days + 1 s; new-a: 10 days

    resp = await crm_client.post("/api/admin/recordings/sweep", headers=admin.headers)
    assert resp.status == 200 and await resp.json() == {"purged": 1, "campaigns": 1}
    purged = await _row(crm_service, old_a.id)
    assert purged.purged_at == crm_clock.now() and purged.purge_reason == "retention"
    assert not Path(old_a_path).exists() and purged.path == ""  # noqa: ASYNC240
    for rec in (old_b, old_n, new_a):
        assert await crm_service.recordings.plaintext(rec.id) == wav()
    (entry,) = await _audits(crm_service, "recording.purged")
    assert (entry.actor_id, entry.entity_id, entry.details["reason"]) == (
        admin.user_id,
        str(old_a.id),
        "retention",
    )
    (change,) = await _audits(crm_service, "campaign.retention_set")
    assert change.details == {"before": None, "after": 30} and change.actor_id == manager.user_id
    assert (await crm_service.recording_upkeep.sweep()).purged == 0  # idempotent
    crm_clock.advance(timedelta(days=20))
    assert (await crm_service.recording_upkeep.sweep()).purged == 1  # now new-a too


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": "x"}, "retention_days"),
        ({"retention_days": 40000}, "retention_days"),
        ({}, "retention_days"),
        ({"retention_days": 3, "extra": 1}, "extra"),
    ],
)
async def test_given_bad_retention_when_putting_then_400_naming_the_field(
    crm_client, crm_service, crm_actors, body, field
):
    campaign = await crm_service.campaigns.create({"name": "c"})
    resp = await crm_client.put(
        f"/api/campaigns/{campaign.id}/retention", json=body, headers=crm_actors["admin"].headers
    )
    assert resp.status == 400 and (await resp.json())["details"]["field"] == field
    assert (await crm_service.campaigns.get(campaign.id)).retention_days is None


async def test_given_retention_endpoints_when_null_or_unknown_campaign_then_kept_or_404(
    crm_client, crm_service, crm_actors
):
    campaign = await crm_service.campaigns.create(
        {"name": "c", "max_attempts": 3, "manager_id": crm_actors["manager"].user_id})
    h = crm_actors["manager"].headers
    url = f"/api/campaigns/{campaign.id}/retention"
    assert (await crm_client.put(url, json={"retention_days": 7}, headers=h)).status == 200
    assert (await (await crm_client.get(url, headers=h)).json())["retention_days"] == 7
    assert (await crm_client.put(url, json={"retention_days": None}, headers=h)).status == 200
    assert (await crm_service.campaigns.get(campaign.id)).retention_days is None
    missing = await crm_client.put(
        "/api/campaigns/00000000-0000-0000-0000-000000000000/retention",
        json={"retention_days": 7},
        headers=h,
    )
    assert missing.status == 404
    bad = await crm_client.get("/api/campaigns/nope/retention", headers=h)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "campaign_id"


async def test_given_another_managers_campaign_when_retention_read_or_set_then_403(
    crm_client, crm_service, crm_actors
):
    """Issue 17 finding 2: a manager may not shorten another manager's retention."""
    other = await crm_service.auth.create_user("other-manager", Role.MANAGER, password="pw-1234567")
    campaign = await crm_service.campaigns.create({"name": "theirs", "manager_id": other.id})
    url = f"/api/campaigns/{campaign.id}/retention"
    h = crm_actors["manager"].headers
    refused = await crm_client.put(url, json={"retention_days": 1}, headers=h)
    assert refused.status == 403
    assert (await crm_client.get(url, headers=h)).status == 403
    assert (await crm_service.campaigns.get(campaign.id)).retention_days is None
    admin = crm_actors["admin"].headers
    assert (await crm_client.put(url, json={"retention_days": 9}, headers=admin)).status == 200


async def test_given_app_running_when_retention_passes_then_periodic_sweeper_purges(
    crm_settings, crm_service, crm_actors, crm_clock
):
    from aiohttp.test_utils import TestClient, TestServer

    from crm.app import create_crm_app

    campaign = await crm_service.campaigns.create({"name": "periodic"})
    await crm_service.recording_upkeep.set_retention(campaign.id, 1)
    await crm_service.ingest_call_event(
        {"event_id": "p-e", "call_id": "p-1", "type": "ended", "campaign_id": str(campaign.id)}
    )
    rec = await crm_service.store_recording("p-1", wav())
    crm_clock.advance(timedelta(days=2))
    settings = dataclasses.replace(crm_settings, retention_sweep_seconds=1)
    client = TestClient(TestServer(create_crm_app(settings, service=crm_service)))
    await client.start_server()
    try:
        deadline = time.monotonic() + 30
        while (await _row(crm_service, rec.id)).purged_at is None:
            assert time.monotonic() < deadline, "the periodic sweep never ran"
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    (entry,) = await _audits(crm_service, "recording.purged")
    assert entry.actor_id is None and entry.details["reason"] == "retention"


async def test_given_files_under_old_key_and_legacy_plaintext_when_rotating_then_all_under_new_key(
    crm_settings, crm_clock, crm_service
):
    old_key, new_key = _key(), _key()
    old = CrmService.open(
        dataclasses.replace(crm_settings, recording_keys=f"old:{old_key}"), clock=crm_clock
    )
    both = CrmService.open(
        dataclasses.replace(crm_settings, recording_keys=f"new:{new_key},old:{old_key}"),
        clock=crm_clock,
    )
    only_new = CrmService.open(
        dataclasses.replace(crm_settings, recording_keys=f"new:{new_key}"), clock=crm_clock
    )
    only_old = CrmService.open(
        dataclasses.replace(crm_settings, recording_keys=f"old:{old_key}"), clock=crm_clock
    )
    try:
        audio = [wav(0.2 * (i + 1), level=100 * (i + 1)) for i in range(3)]
        recs = [await old.store_recording(f"rot-{i}", audio[i]) for i in range(2)]
        legacy = await _legacy_recording(old, crm_settings.recordings_dir, audio[2])
        assert {r.key_id for r in recs} == {"old"}
        assert await both.recordings.plaintext(recs[0].id) == audio[0]  # old key still reads
        with pytest.raises(UnknownKeyError):
            await only_new.recordings.plaintext(recs[0].id)

        result = await both.recording_upkeep.rotate()
        assert (result.rotated, result.failed, result.active_key) == (3, {}, "new")
        for rec, plain in zip([*recs, legacy], audio, strict=True):
            row = await _row(both, rec.id)
            assert row.key_id == "new" and read_key_id(row.path) == "new"
            assert await only_new.recordings.plaintext(rec.id) == plain  # old key removed: fine
            with pytest.raises(UnknownKeyError):
                await only_old.recordings.plaintext(rec.id)
        assert len(await _audits(both, "recording.rekeyed")) == 3
        assert (await both.recording_upkeep.rotate()).rotated == 0
    finally:
        for s in (old, both, only_new, only_old):
            await s.close()


async def _legacy_recording(service: CrmService, root: Path, audio: bytes) -> Recording:
    """A file written before encryption existed: plain bytes, ``key_id`` NULL."""
    import hashlib
    import uuid

    path = root / "legacy.wav"
    path.write_bytes(audio)  # noqa: ASYNC240
    rec = Recording(
        id=uuid.uuid4(),
        call_id="legacy",
        path=str(path),
        size_bytes=len(audio),
        sha256=hashlib.sha256(audio).hexdigest(),
        content_type="audio/wav",
        created_at=service.clock.now(),
    )
    async with service.engine.begin() as conn:
        await conn.execute(sa.insert(Recording).values(**rec.model_dump()))
    assert await service.recordings.plaintext(rec.id) == audio
    return rec


async def test_given_damaged_file_when_rotating_then_reported_and_left_untouched(
    crm_settings, crm_clock, crm_service
):
    rec = await crm_service.store_recording("bad-1", wav())
    good = await crm_service.store_recording("good-1", wav(0.3))
    path = Path((await _row(crm_service, rec.id)).path)
    damaged = bytearray(path.read_bytes())  # noqa: ASYNC240
    damaged[-5] ^= 0xFF
    path.write_bytes(bytes(damaged))  # noqa: ASYNC240
    rotated = CrmService.open(
        dataclasses.replace(
            crm_settings,
            recording_keys=f"k2:{_key()},sandbox-1:{base64.b64encode(SANDBOX_KEY).decode()}",
        ),
        clock=crm_clock,
    )
    try:
        result = await rotated.recording_upkeep.rotate()
        assert result.rotated == 1 and list(result.failed) == [str(rec.id)]
        assert path.read_bytes() == bytes(damaged)  # noqa: ASYNC240
        assert (await _row(rotated, rec.id)).key_id == "sandbox-1"
        assert (await _row(rotated, good.id)).key_id == "k2"
        assert not list(path.parent.glob("*.rekey"))
    finally:
        await rotated.close()


def test_given_cli_when_rotating_and_sweeping_then_exit_codes_and_counts(
    tmp_path, monkeypatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setenv("DIALCRM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("DIALCRM_RECORDINGS_DIR", str(tmp_path / "rec"))
    old_key, new_key = _key(), _key()
    monkeypatch.setenv("DIALCRM_RECORDING_KEYS", f"old:{old_key}")
    assert cli_main(["migrate"]) == 0

    async def store() -> None:
        from crm.settings import CrmSettings

        service = CrmService.open(CrmSettings.from_env())
        try:
            await service.store_recording("cli-1", wav())
        finally:
            await service.close()

    asyncio.run(store())
    monkeypatch.setenv("DIALCRM_RECORDING_KEYS", f"new:{new_key},old:{old_key}")
    capsys.readouterr()
    assert cli_main(["rotate-recording-keys"]) == 0
    assert "re-encrypted 1 recordings under key new" in capsys.readouterr().out
    (path,) = [p for p in (tmp_path / "rec").rglob("*") if p.is_file()]
    assert read_key_id(path) == "new"
    assert cli_main(["sweep-recordings"]) == 0
    assert "purged 0 recordings" in capsys.readouterr().out
    monkeypatch.setenv("DIALCRM_RECORDING_KEYS", "broken")
    assert cli_main(["rotate-recording-keys"]) == 1
    assert "error: expected id:base64key" in capsys.readouterr().err
