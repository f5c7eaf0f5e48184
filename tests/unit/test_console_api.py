"""The console API and pages, and ``/status``, through aiohttp's test client on a dialer built
with fakes (no Asterisk): settings validated and audited, applied live to a running campaign,
start / pause / stop, agents refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from crm.db.engine import make_sessionmaker
from crm.db.models import Call
from crm.db.models_ops import AuditLog
from crm.http.routing import SESSION_COOKIE
from tests.helpers.web_apps import PASSWORD, console_app
from web.status.api import add_health_check


@pytest.fixture
async def rig(tmp_path: Path):
    async with console_app(tmp_path) as (app, crm, dialer, tokens), \
            TestClient(TestServer(app)) as client:
        yield client, crm, dialer, tokens


def auth(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


async def _create(client, tokens, **values):
    resp = await client.post("/api/console/campaigns", headers=auth(tokens, "boss"),
                             json={"name": "Spring", **values})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_given_manager_when_creating_with_settings_then_saved_with_dialing(rig):
    client, crm, _, tokens = rig
    view = await _create(client, tokens, mode="predictive", abandon_window="24h",
                         window_start="10:00", retry_busy_minutes=7, record=False)
    assert view["dialing"]["mode"] == "predictive" and view["dialing"]["record"] is False
    assert view["campaign"]["window_start"] == "10:00"
    assert view["campaign"]["retry_busy_minutes"] == 7 and view["running"] is False
    listed = await (await client.get("/api/console/campaigns",
                                     headers=auth(tokens, "boss"))).json()
    assert [i["campaign"]["name"] for i in listed["items"]] == ["Spring"]
    other = await (await client.get("/api/console/campaigns",
                                    headers=auth(tokens, "boss2"))).json()
    assert other["items"] == []


@pytest.mark.parametrize("body, field", [
    ({"ring_timeout_s": 500}, "ring_timeout_s"),
    ({"channel_template": "Local/nothing"}, "channel_template"),
    ({"channel_template": "Local/{number.__class__}@sim-pstn"}, "channel_template"),
    ({"caller_id": '"Bank" <110>'}, "caller_id"),
    ({"timezone": "Nowhere/City"}, "timezone"),
    ({"mode": "turbo"}, "mode"),
    ({"colour": "red"}, "colour"),
])
async def test_given_bad_value_when_creating_then_400_naming_field_and_nothing_created(
    rig, body, field
):
    client, crm, _, tokens = rig
    resp = await client.post("/api/console/campaigns", headers=auth(tokens, "boss"),
                             json={"name": "Bad", **body})
    assert resp.status == 400
    assert (await resp.json())["details"]["field"] == field
    assert (await crm.campaigns.list()).total == 0


async def test_given_running_campaign_when_settings_change_then_applied_live_and_audited(rig):
    client, crm, dialer, tokens = rig
    view = await _create(client, tokens)
    cid = view["campaign"]["id"]
    started = await client.post(f"/api/console/campaigns/{cid}/start",
                                headers=auth(tokens, "boss"))
    assert started.status == 200, await started.text()
    assert (await started.json())["running"] is True
    assert dialer.config(cid).mode.value == "progressive"

    resp = await client.patch(f"/api/console/campaigns/{cid}", headers=auth(tokens, "boss"),
                              json={"ring_timeout_s": 40, "caller_id": "4008001234"})
    body = await resp.json()
    assert resp.status == 200 and body["applied_live"] is True
    assert dialer.config(cid).ring_timeout_s == 40
    assert dialer.config(cid).caller_id == "4008001234"

    mode = await client.post(f"/api/console/campaigns/{cid}/mode", headers=auth(tokens, "boss"),
                             json={"mode": "predictive"})
    assert (await mode.json())["dialing"]["mode"] == "predictive"
    assert dialer.config(cid).mode.value == "predictive"
    assert (await crm.dialing.get(uuid.UUID(cid)))["dialing"]["mode"] == "predictive"

    bad = await client.patch(f"/api/console/campaigns/{cid}", headers=auth(tokens, "boss"),
                             json={"ring_timeout_s": 2})
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "ring_timeout_s"
    assert dialer.config(cid).ring_timeout_s == 40

    async with make_sessionmaker(crm.engine)() as s:
        entries = (await s.scalars(sa.select(AuditLog).where(
            AuditLog.action == "campaign.settings_changed").order_by(AuditLog.id))).all()
    changes = [e.details for e in entries]
    assert {"before": {"ring_timeout_s": 25, "caller_id": ""},
            "after": {"ring_timeout_s": 40, "caller_id": "4008001234"}} in changes
    assert {"before": {"mode": "progressive"}, "after": {"mode": "predictive"}} in changes


async def test_given_running_campaign_when_paused_then_stopped_then_status_follows(rig):
    client, crm, dialer, tokens = rig
    cid = (await _create(client, tokens))["campaign"]["id"]
    await client.post(f"/api/console/campaigns/{cid}/start", headers=auth(tokens, "boss"))
    paused = await (await client.post(f"/api/console/campaigns/{cid}/pause",
                                      headers=auth(tokens, "boss"))).json()
    assert paused["running"] is False and paused["campaign"]["status"] == "paused"
    assert cid not in dialer.runners
    stopped = await (await client.post(f"/api/console/campaigns/{cid}/stop",
                                       headers=auth(tokens, "boss"))).json()
    assert stopped["campaign"]["status"] == "archived"
    foreign = await client.post(f"/api/console/campaigns/{cid}/start",
                                headers=auth(tokens, "boss2"))
    assert foreign.status == 403


async def test_given_agent_when_opening_console_pages_or_api_then_refused(rig):
    client, crm, _, tokens = rig
    assert (await client.get("/api/console/campaigns", headers=auth(tokens, "agent1"))).status \
        == 403
    session_id, _ = await crm.auth.login("agent1", PASSWORD)
    for path in ("/console", "/console/reports", "/admin"):
        resp = await client.get(path, cookies={SESSION_COOKIE: session_id},
                                allow_redirects=False)
        assert resp.status == 403, path
        assert 'data-testid="forbidden"' in await resp.text()
    anonymous = await client.get("/console", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login")
    manager, _ = await crm.auth.login("boss", PASSWORD)
    assert (await client.get("/admin", cookies={SESSION_COOKIE: manager},
                             allow_redirects=False)).status == 403
    page = await client.get("/console?lang=en", cookies={SESSION_COOKIE: manager})
    assert page.status == 200 and "Manager console" in await page.text()


async def test_given_campaign_when_opening_its_page_in_chinese_then_every_setting_rendered(rig):
    client, crm, _, tokens = rig
    cid = (await _create(client, tokens))["campaign"]["id"]
    session_id, _ = await crm.auth.login("boss", PASSWORD)
    resp = await client.get(f"/console/campaigns/{cid}?lang=zh",
                            cookies={SESSION_COOKIE: session_id})
    text = await resp.text()
    assert resp.status == 200 and "拨号模式" in text
    for name in ("ring_timeout_s", "abandon_target", "abandon_window", "safe_harbour",
                 "window_start", "timezone", "retry_busy_minutes", "max_retries_no_answer",
                 "machine_action", "wrap_up_limit_s", "caller_id", "channel_template", "record"):
        assert f'data-testid="f-{name}"' in text, name


async def test_given_no_asterisk_when_status_then_503_naming_the_failing_components(rig):
    client, _, _, tokens = rig
    resp = await client.get("/status")
    body = await resp.json()
    assert resp.status == 503 and body["ok"] is False
    assert body["components"]["database"]["ok"] is True
    assert body["components"]["outbox"]["ok"] is True
    assert body["components"]["ari"]["ok"] is False
    assert body["components"]["recogniser"] == {"ok": True}
    # the details (versions, errors) are the admin's (issue 17): not on the public /status
    assert all(set(c) == {"ok"} for c in body["components"].values())
    admin = await (await client.get("/api/admin/dashboard", headers=auth(tokens, "root"))).json()
    health = admin["health"]["components"]
    assert health["ari"]["ok"] is False and health["ari"]["error"]
    assert health["recogniser"] == {"ok": True, "detail": {"enabled": False}, "error": None}


async def test_given_failing_registered_check_when_status_then_reported(tmp_path: Path):
    async with console_app(tmp_path) as (app, _, _, tokens):
        async def broken() -> dict:
            raise RuntimeError("pool exploded")
        add_health_check(app, "recogniser", broken)
        async with TestClient(TestServer(app)) as client:
            body = await (await client.get("/status")).json()
            admin = await (await client.get("/api/admin/dashboard",
                                            headers=auth(tokens, "root"))).json()
    assert body["components"]["recogniser"] == {"ok": False}  # the text is the admin's
    assert "pool exploded" in admin["health"]["components"]["recogniser"]["error"]


async def test_given_abandons_when_listing_then_regulatory_rate_over_chosen_window(rig):
    client, crm, _, tokens = rig
    cid = (await _create(client, tokens, abandon_target=0.05))["campaign"]["id"]
    now = datetime.now(UTC)
    calls = [("answered", timedelta(hours=1)), ("abandoned", timedelta(hours=2)),
             ("answered", timedelta(days=3)), ("answered", timedelta(days=3)),
             ("no_answer", timedelta(hours=1)), ("abandoned", timedelta(days=40))]
    async with make_sessionmaker(crm.engine).begin() as s:
        for i, (outcome, ago) in enumerate(calls):
            s.add(Call(call_id=f"a{i}", campaign_id=uuid.UUID(cid), state="ended",
                       originated_at=now - ago, outcome=outcome))
    items = (await (await client.get("/api/console/campaigns",
                                     headers=auth(tokens, "boss"))).json())["items"]
    assert items[0]["regulatory"] == {"window": "30d", "answered": 4, "abandoned": 1,
                                      "rate": 0.25, "target": 0.05, "over_target": True}
    await client.patch(f"/api/console/campaigns/{cid}", headers=auth(tokens, "boss"),
                       json={"abandon_window": "24h", "abandon_target": 0.2})
    view = await (await client.get(f"/api/console/campaigns/{cid}",
                                   headers=auth(tokens, "boss"))).json()
    assert view["regulatory"] == {"window": "24h", "answered": 2, "abandoned": 1, "rate": 0.5,
                                  "target": 0.2, "over_target": True}


async def test_given_running_campaign_when_controller_restarts_then_saved_settings_kept(
    tmp_path: Path,
):
    async with console_app(tmp_path) as (app, crm, dialer, tokens), \
            TestClient(TestServer(app)) as client:
        cid = (await _create(client, tokens, ring_timeout_s=33))["campaign"]["id"]
        await client.post(f"/api/console/campaigns/{cid}/start", headers=auth(tokens, "boss"))
        await client.post(f"/api/console/campaigns/{cid}/mode", headers=auth(tokens, "boss"),
                          json={"mode": "preview"})
    async with console_app(tmp_path, seed=False) as (app, crm, dialer, _):
        assert cid in dialer.runners
        assert dialer.config(cid).mode.value == "preview"
        assert dialer.config(cid).ring_timeout_s == 33
        saved = await crm.dialing.get(uuid.UUID(cid))
        assert saved["dialing"]["mode"] == "preview" and saved["dialing"]["ring_timeout_s"] == 33


async def test_given_bad_setting_when_page_asks_in_chinese_then_server_says_it_in_chinese(rig):
    """The console page's messages come from the server in its language (no client tables)."""
    client, _, _, tokens = rig
    cid = (await _create(client, tokens))["campaign"]["id"]
    zh = {**auth(tokens, "boss"), "Accept-Language": "zh"}
    bad = await client.patch(f"/api/console/campaigns/{cid}", headers=zh,
                             json={"ring_timeout_s": 500})
    body = await bad.json()
    assert bad.status == 400 and body["message"] == "ring_timeout_s: 不能大于 120"
    assert body["details"]["problems"][0] == {"field": "ring_timeout_s", "message": "不能大于 120"}
    empty = await client.patch(f"/api/console/campaigns/{cid}", headers=zh,
                               json={"window_start": "09:00", "window_end": "09:00"})
    assert (await empty.json())["message"] == "拨打时段为空（开始 = 结束）"
    english = await client.patch(f"/api/console/campaigns/{cid}", headers=auth(tokens, "boss"),
                                 json={"window_start": "09:00", "window_end": "09:00"})
    assert (await english.json())["message"] == "the calling window is empty (start = end)"
