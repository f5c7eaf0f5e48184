"""The dialer's HTTP API through aiohttp's test client: auth, roles, bad input, state errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.helpers.web_apps import Api


async def test_given_no_token_when_agent_route_called_then_401(api: Api) -> None:
    status, body = await api.call("POST", "/api/agent/ready", who=None)
    assert status == 401 and body["error"]


async def test_given_agent_when_manager_route_called_then_403(api: Api) -> None:
    status, _ = await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run",
                               body={"mode": "predictive"})
    assert status == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"extension": "10a1", "campaign_id": None}, "extension"),
        ({"extension": "1001"}, "campaign_id"),
        ({"extension": "1001", "campaign_id": "not-a-uuid"}, "campaign_id"),
        ({"extension": "1001", "campaign_id": "3f1d7c1e-0000-4000-8000-000000000000",
          "colour": "red"}, "colour"),
    ],
)
async def test_given_bad_login_body_then_400_names_field(api: Api, body: Any, field: str) -> None:
    status, answer = await api.call("POST", "/api/agent/login", body=body)
    assert status == 400
    assert field in answer["message"] or field in str(answer["details"])


async def test_given_unknown_campaign_when_login_then_404(api: Api) -> None:
    status, body = await api.call("POST", "/api/agent/login", body={
        "extension": "1001", "campaign_id": "3f1d7c1e-0000-4000-8000-000000000000"})
    assert status == 404, body


async def test_given_logged_in_agent_when_state_errors_then_409_and_400(api: Api) -> None:
    status, state = await api.call("POST", "/api/agent/login", body={
        "extension": "1001", "campaign_id": api.campaign_id})
    assert status == 200 and state["state"] == "ready"

    assert (await api.call("POST", "/api/agent/hangup"))[0] == 409
    status, body = await api.call("POST", "/api/agent/disposition",
                                  body={"disposition": "sale"})
    assert status == 409 and body["error"] == "conflict"
    status, body = await api.call("POST", "/api/agent/pause", body={"pause_code": ""})
    assert status == 400
    status, body = await api.call("POST", "/api/agent/pause", body={"pause_code": "lunch"})
    assert status == 200 and body["state"] == "paused" and body["pause_code"] == "lunch"
    assert (await api.call("POST", "/api/agent/preview/accept"))[0] == 409


async def test_given_unknown_or_bad_campaign_when_manager_acts_then_clear_errors(api: Api) -> None:
    missing = "3f1d7c1e-0000-4000-8000-000000000000"
    status, _ = await api.call("POST", f"/api/dialer/campaigns/{missing}/run", who="boss",
                               body={})
    assert status == 404
    status, body = await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run",
                                  who="boss", body={"ring_timeout_s": 1})
    assert status == 400 and body["details"]["field"] == "ring_timeout_s"
    status, body = await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run",
                                  who="boss", body={"channel_template": "Local/x@sim-pstn"})
    assert status == 400 and body["details"]["field"] == "channel_template"
    status, body = await api.call("POST", "/api/dialer/campaigns/nope/stop", who="boss")
    assert status == 400 and body["details"]["field"] == "campaign_id"


async def test_given_campaign_without_leads_when_run_then_hopper_alarm_visible(api: Api) -> None:
    await api.call("POST", "/api/agent/login", body={
        "extension": "1001", "campaign_id": api.campaign_id})
    status, config = await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run",
                                    who="boss", body={"mode": "progressive"})
    assert status == 200 and config["mode"] == "progressive"
    for _ in range(100):
        status, snapshot = await api.call("GET", "/api/dialer/status", who="boss")
        campaign = snapshot["campaigns"][0]
        if campaign["alarm"]:
            break
        await asyncio.sleep(0.02)
    assert campaign["alarm"] == "hopper_empty"


async def test_given_unregistered_agent_phone_when_login_then_409_naming_extension(
    api: Api,
) -> None:
    api.control.refuse_originate = True  # what ARI answers for a PJSIP endpoint without contact
    status, body = await api.call("POST", "/api/agent/login", body={
        "extension": "1099", "campaign_id": api.campaign_id})
    assert status == 409, body
    assert body["error"] == "agent_phone_unavailable" and body["details"]["field"] == "extension"
    assert "1099" in body["message"]
    api.control.refuse_originate = False
    status, body = await api.call("POST", "/api/agent/login", body={
        "extension": "1001", "campaign_id": api.campaign_id})
    assert status == 200, "a failed login leaves nothing behind that blocks the next one"


@pytest.mark.parametrize(("action", "body"), [
    ("run", {"mode": "progressive"}), ("stop", None), ("mode", {"mode": "preview"}),
])
async def test_given_another_managers_campaign_when_run_stop_or_mode_then_403(
    api: Api, action: str, body: Any,
) -> None:
    """Issue 17 finding 1: a manager acts only on the campaigns they manage (admins: all)."""
    url = f"/api/dialer/campaigns/{api.campaign_id}/{action}"
    status, answer = await api.call("POST", url, who="boss2", body=body)
    assert status == 403 and answer["details"]["campaign_id"] == api.campaign_id
    status, _ = await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run",
                               who="root", body={})
    assert status == 200, "an admin runs every campaign"
    status, _ = await api.call("POST", url, who="boss", body=body)
    assert status == 200


@pytest.mark.parametrize(("field", "value"), [
    ("channel_template", "Local/{number.__class__}@sim-pstn"),
    ("channel_template", "Local/{0}@sim-pstn"),
    ("channel_template", "Local/{number[0]}@sim-pstn"),
    ("channel_template", "Local/{number}@sim-pstn&PJSIP/{number}@trunk"),
    ("channel_template", "Local/{number}@sim-pstn,,60"),
    ("channel_template", "{number}"),
    ("caller_id", '"Bank" <110>'),
    ("caller_id", "110"),
    ("caller_id", '"Ba"nk" <4008888000>'),
    ("caller_id", '"Bank\n" <4008888000>'),
    ("caller_id", "<4008888000>"),
])
async def test_given_unsafe_dial_string_when_run_then_400_naming_field(
    api: Api, field: str, value: str,
) -> None:
    status, body = await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run",
                                  who="boss", body={field: value})
    assert status == 400 and body["details"]["field"] == field, body


@pytest.mark.parametrize(("template", "caller_id"), [
    ("PJSIP/{number}@trunk", '"Bank" <4008888000>'),
    ("SIP/trunk/{number}", "+8613800138000"),
    ("Local/{number}@sim-pstn", ""),
])
async def test_given_safe_dial_strings_when_run_then_accepted(
    api: Api, template: str, caller_id: str,
) -> None:
    status, config = await api.call(
        "POST", f"/api/dialer/campaigns/{api.campaign_id}/run", who="boss",
        body={"channel_template": template, "caller_id": caller_id})
    assert status == 200 and config["channel_template"] == template
    assert config["caller_id"] == caller_id


async def test_given_ari_refuses_agent_phone_when_login_then_its_text_is_logged_not_returned(
    api: Api, caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 17 (#15): Asterisk's words (paths, channel names) stay in the log, under a
    reference the client gets."""
    api.control.refuse_originate = True
    with caplog.at_level("WARNING", logger="web.http"):
        status, body = await api.call("POST", "/api/agent/login", body={
            "extension": "1099", "campaign_id": api.campaign_id})
    assert status == 409, body
    said = str(body)
    assert "Allocation failed" not in said and "/channels" not in said and "ARI" not in said
    ref = body["details"]["ref"]
    assert any(ref in r.getMessage() and "Allocation failed" in r.getMessage()
               for r in caplog.records)


async def test_given_ari_error_in_a_handler_when_mapped_then_503_without_asterisks_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from aiohttp.test_utils import make_mocked_request

    from ari_app.errors import AriRequestFailed
    from crm.http.routing import Ctx
    from web.http import dialer_errors

    async def boom(ctx: Ctx) -> Any:
        raise AriRequestFailed("POST", "/channels/PJSIP-1001-0001/snoop", 409,
                               "Channel not in Stasis application")

    with caplog.at_level("WARNING", logger="web.http"):
        resp = await dialer_errors(boom)(Ctx(make_mocked_request("POST", "/api/x"), None, None))
    body = json.loads(resp.text)
    assert resp.status == 503 and body["error"] == "telephony_unavailable"
    assert "Stasis" not in resp.text and "PJSIP" not in resp.text
    assert any(body["details"]["ref"] in r.getMessage() and "Stasis" in r.getMessage()
               for r in caplog.records)


async def test_given_agent_without_call_when_hold_or_mute_then_409_and_bad_body_400(
    api: Api
) -> None:
    await api.call("POST", "/api/agent/login", body={
        "extension": "1001", "campaign_id": api.campaign_id})
    for path, field in (("/api/agent/hold", "hold"), ("/api/agent/mute", "mute")):
        status, body = await api.call("POST", path, body={field: True})
        assert status == 409 and body["details"]["field"] == "call_id", body
        status, body = await api.call("POST", path, body={field: "maybe"})
        assert status == 400 and field in json.dumps(body), body
        status, body = await api.call("POST", path, body={})
        assert status == 400 and field in json.dumps(body), body
