"""Component tests: users and tokens, DNC, recordings, leads, reference data, the CLI."""

from __future__ import annotations

import io
import uuid
import wave

import pytest

from crm.cli import main as cli_main
from crm.domain.enums import Role
from crm.testing import ACTOR_PASSWORD


async def test_given_admin_when_creating_user_and_token_then_token_authenticates(
    crm_client, crm_actors
):
    admin = crm_actors["admin"].headers
    resp = await crm_client.post(
        "/api/users",
        json={"username": "neo", "role": "agent", "password": "password-9"},
        headers=admin,
    )
    user = await resp.json()
    assert resp.status == 201 and "password_hash" not in user and user["has_password"]
    dup = await crm_client.post(
        "/api/users", json={"username": "neo", "role": "agent"}, headers=admin
    )
    assert dup.status == 409 and (await dup.json())["details"]["field"] == "username"
    issued = await (
        await crm_client.post(f"/api/users/{user['id']}/tokens", json={"name": "t"}, headers=admin)
    ).json()
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert (await (await crm_client.get("/api/auth/me", headers=bearer)).json())[
        "username"
    ] == "neo"
    assert (
        await crm_client.delete(f"/api/tokens/{issued['token_id']}", headers=admin)
    ).status == 204
    assert (await crm_client.get("/api/auth/me", headers=bearer)).status == 401


async def test_given_agent_when_changing_own_role_then_403_but_password_ok(crm_client, crm_actors):
    agent = crm_actors["agent"]
    url = f"/api/users/{agent.user_id}"
    assert (
        await crm_client.patch(url, json={"role": "admin"}, headers=agent.headers)
    ).status == 403
    other = f"/api/users/{crm_actors['agent2'].user_id}"
    assert (await crm_client.get(other, headers=agent.headers)).status == 403
    ok = await crm_client.patch(  # the password change revokes the agent's tokens (issue 17)
        url,
        json={"password": "new-password-1", "current_password": ACTOR_PASSWORD},
        headers=agent.headers,
    )
    assert ok.status == 200
    login = await crm_client.post(
        "/api/auth/login", json={"username": "agent", "password": "new-password-1"}
    )
    assert login.status == 200


async def test_given_deactivated_user_when_using_token_then_401(crm_client, crm_actors):
    agent = crm_actors["agent"]
    await crm_client.patch(
        f"/api/users/{agent.user_id}", json={"active": False}, headers=crm_actors["admin"].headers
    )
    assert (await crm_client.get("/api/auth/me", headers=agent.headers)).status == 401


async def test_given_dnc_entries_when_checking_then_global_and_campaign_scopes(
    crm_client, crm_actors
):
    h, admin = crm_actors["agent"].headers, crm_actors["admin"].headers
    camp = await (
        await crm_client.post(
            "/api/campaigns", json={"name": "c"}, headers=crm_actors["manager"].headers
        )
    ).json()
    made = await crm_client.post(
        "/api/dnc", json={"number": "138 0013 8000", "campaign_id": camp["id"]}, headers=h
    )
    assert made.status == 201
    again = await crm_client.post(
        "/api/dnc", json={"number": "+8613800138000", "campaign_id": camp["id"]}, headers=h
    )
    assert again.status == 409
    q = "/api/dnc/check?number=13800138000"
    assert (await (await crm_client.get(q, headers=h)).json())["dnc"] is False
    assert (await (await crm_client.get(f"{q}&campaign_id={camp['id']}", headers=h)).json())[
        "dnc"
    ] is True
    bad = await crm_client.get("/api/dnc/check?number=abc", headers=h)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "number"
    entry = await made.json()
    assert (await crm_client.delete(f"/api/dnc/{entry['id']}", headers=h)).status == 403
    assert (await crm_client.delete(f"/api/dnc/{entry['id']}", headers=admin)).status == 204
    listed = await (await crm_client.get("/api/dnc", headers=crm_actors["manager"].headers)).json()
    assert listed["total"] == 0


def _wav(seconds: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buf.getvalue()


async def test_given_wav_when_uploading_recording_then_stored_with_checksum(
    crm_client, crm_actors, crm_service
):
    dialer = crm_actors["dialer"].headers
    await crm_client.post(
        "/api/calls", json={"event_id": "e", "call_id": "rec-1", "type": "ended"}, headers=dialer
    )
    resp = await crm_client.put(
        "/api/calls/rec-1/recording",
        data=_wav(1.5),
        headers={**dialer, "Content-Type": "audio/wav"},
    )
    rec = await resp.json()
    assert resp.status == 201 and rec["duration_seconds"] == 1.5 and len(rec["sha256"]) == 64
    assert "path" not in rec and rec["encrypted"] is True  # no path on disk leaves the CRM
    plain = await crm_service.recordings.plaintext(uuid.UUID(rec["id"]))
    assert len(plain) == rec["size_bytes"] and plain == _wav(1.5)
    call = await (await crm_client.get("/api/calls/rec-1", headers=dialer)).json()
    assert call["recording_id"] == rec["id"] and len(call["events"]) == 1
    agent = crm_actors["agent"].headers
    assert (await crm_client.get("/api/calls/rec-1", headers=agent)).status == 403


async def test_given_lead_when_manager_patches_then_updated_and_agent_cannot(
    crm_client, crm_actors
):
    m = crm_actors["manager"].headers
    camp = await (await crm_client.post("/api/campaigns", json={"name": "c"}, headers=m)).json()
    lead = await (
        await crm_client.post(
            f"/api/campaigns/{camp['id']}/leads", json={"phone": "13800000001"}, headers=m
        )
    ).json()
    url = f"/api/leads/{lead['lead_id']}"
    resp = await crm_client.patch(
        url, json={"priority": 9, "agent_id": str(crm_actors["agent"].user_id)}, headers=m
    )
    assert (await resp.json())["priority"] == 9
    agent = crm_actors["agent"].headers
    assert (await crm_client.get(url, headers=agent)).status == 200
    assert (await crm_client.get(url, headers=crm_actors["agent2"].headers)).status == 403
    assert (await crm_client.patch(url, json={"priority": 1}, headers=agent)).status == 403
    bad = await crm_client.patch(url, json={"status": "flying"}, headers=m)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "status"


async def test_given_scripts_and_dispositions_when_listing_then_available(crm_client, crm_actors):
    m, agent = crm_actors["manager"].headers, crm_actors["agent"].headers
    made = await crm_client.post(  # a script of every campaign: an admin's
        "/api/scripts",
        json={"name": "vip", "body": "Dear", "language": "en", "tags": ["VIP"]},
        headers=crm_actors["admin"].headers,
    )
    assert made.status == 201
    scripts = await (await crm_client.get("/api/scripts", headers=agent)).json()
    assert scripts["items"][0]["tags"] == ["VIP"]
    codes = await (await crm_client.get("/api/dispositions", headers=agent)).json()
    assert "sale" in {d["code"] for d in codes["items"]}
    assert (
        await crm_client.post(
            "/api/dispositions", json={"code": "x", "label_zh": "x", "label_en": "x"}, headers=m
        )
    ).status == 403


def test_given_empty_db_when_cli_creates_admin_then_token_printed(
    tmp_path, monkeypatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setenv("DIALCRM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("DIALCRM_ADMIN_PASSWORD", "admin-pass-1")
    monkeypatch.setenv("DIALCRM_PASSWORD_SCRYPT_N", "16")
    assert cli_main(["create-admin", "root"]) == 0
    assert "token: dcrm_" in capsys.readouterr().out
    assert cli_main(["create-admin", "root"]) == 1
    assert cli_main(["create-token", "root"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("dcrm_")


async def test_given_fresh_db_when_app_starts_then_migrated_and_disposed(tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    from crm.app import create_crm_app, crm_service_of
    from crm.settings import CrmSettings

    settings = CrmSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}",
        recordings_dir=tmp_path,
        password_scrypt_n=16,
    )
    app = create_crm_app(settings)
    async with TestClient(TestServer(app)) as client:
        service = crm_service_of(app)
        user = await service.auth.create_user("boss", Role.ADMIN)
        token = (await service.auth.issue_token(user.id)).token
        resp = await client.get("/api/dispositions", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200 and len((await resp.json())["items"]) == 6


async def test_given_nulls_and_oversized_values_when_writing_then_400_not_500(
    crm_client, crm_actors
):
    m = crm_actors["manager"].headers
    camp = await (await crm_client.post("/api/campaigns", json={"name": "c"}, headers=m)).json()
    resp = await crm_client.patch(
        f"/api/campaigns/{camp['id']}", json={"max_attempts": None}, headers=m
    )
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "max_attempts"
    task = await (await crm_client.post("/api/tasks", json={"title": "t"}, headers=m)).json()
    resp = await crm_client.patch(f"/api/tasks/{task['id']}", json={"priority": None}, headers=m)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "priority"
    event = {"event_id": "e", "call_id": "c", "type": "ended", "outcome": "x" * 40}
    resp = await crm_client.post("/api/calls", json=event, headers=crm_actors["dialer"].headers)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "outcome"
