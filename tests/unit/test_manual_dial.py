"""Manual dial (issue 13 item 2) through the dialer's API on fakes: the refusals (DNC, calling
window, membership, state) are 4xx naming the field, in the request's language; a manager's
window override is audited; an accepted dial goes through the dialer's own origination."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col

from crm.db.models_ops import AuditLog
from crm.domain.enums import Role
from crm.services.customers import CustomerInput
from tests.helpers.web_apps import Api

NUMBER = "+8613800138111"  # Asia/Shanghai
TRUNK = "PJSIP/{number}@trunk"  # the campaign's own template is used
ALL_DAY = {"window_start": "00:00", "window_end": "23:59"}


def _closed_window() -> dict[str, str]:
    """A window starting two hours from now in the number's zone: now is outside it."""
    local = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    start, end = local + timedelta(hours=2), local + timedelta(hours=3)
    return {"window_start": start.strftime("%H:00"), "window_end": end.strftime("%H:00")}


def _customer_dials(api: Api) -> list[tuple[object, ...]]:
    return [args for args in api.control.verbs("originate") if args[2] == "customer"]


async def _ready_to_dial(api: Api, window: dict[str, str]) -> str:
    """A customer with NUMBER (open to every agent: no campaign holds them yet), the campaign
    running with ``window``, agent1 logged in and paused. Returns the customer's id."""
    customer, _ = await api.crm.customers.create(CustomerInput(name="王芳", phones=[NUMBER]))
    await api.crm.dialing.update(uuid.UUID(api.campaign_id), window, {})
    status, body = await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run",
                                  who="boss", body={"mode": "preview",
                                                    "channel_template": TRUNK})
    assert status == 200, body
    status, body = await api.call("POST", "/api/agent/login", body={
        "extension": "1001", "campaign_id": api.campaign_id})
    assert status == 200, body
    status, body = await api.call("POST", "/api/agent/pause", body={"pause_code": "manual"})
    assert status == 200 and body["state"] == "paused", body
    return str(customer.id)


async def test_given_paused_member_when_manual_dial_then_call_placed_through_campaign(
        api: Api) -> None:
    customer_id = await _ready_to_dial(api, ALL_DAY)
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id, "customer_id": customer_id})
    assert status == 200, body
    assert body["number"] == NUMBER and body["state"] == "reserved"
    assert body["call_id"] and body["window_overridden"] is False
    assert [(e, c) for e, c, arg in api.control.verbs("originate") if arg == "customer"] == [
        (f"PJSIP/{NUMBER}@trunk", body["call_id"])]


async def test_given_dnc_number_when_manual_dial_then_400_names_number_in_zh(api: Api) -> None:
    await _ready_to_dial(api, ALL_DAY)
    await api.crm.dnc.add(NUMBER, reason="asked")
    status, body = await api.call("POST", "/api/agent/manual-dial?lang=zh", body={
        "campaign_id": api.campaign_id, "number": NUMBER})
    assert status == 400 and body["details"]["field"] == "number", body
    assert "免打扰" in body["message"], body
    assert not _customer_dials(api)


async def test_given_outside_window_when_agent_dials_then_400_and_agent_cannot_override(
        api: Api) -> None:
    await _ready_to_dial(api, _closed_window())
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id, "number": NUMBER})
    assert status == 400 and body["details"]["field"] == "number", body
    assert "calling window" in body["message"]
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id, "number": NUMBER, "override_reason": "asked me to"})
    assert status == 403 and body["details"]["field"] == "override_reason", body
    assert not _customer_dials(api)


async def test_given_outside_window_when_manager_overrides_with_reason_then_dialed_and_audited(
        api: Api) -> None:
    await api.crm.members.bind("boss", ["1002"], None)
    customer, _ = await api.crm.customers.create(CustomerInput(name="Li", phones=[NUMBER]))
    await api.crm.dialing.update(uuid.UUID(api.campaign_id), _closed_window(), {})
    await api.call("POST", f"/api/dialer/campaigns/{api.campaign_id}/run", who="boss",
                   body={"mode": "preview"})
    assert (await api.call("POST", "/api/agent/login", who="boss", body={
        "extension": "1002", "campaign_id": api.campaign_id}))[0] == 200
    await api.call("POST", "/api/agent/pause", who="boss", body={"pause_code": "manual"})
    status, body = await api.call("POST", "/api/agent/manual-dial", who="boss", body={
        "campaign_id": api.campaign_id, "number": NUMBER,
        "override_reason": "customer asked for an early call"})
    assert status == 200 and body["window_overridden"] is True, body
    async with api.crm.engine.connect() as conn:
        entries = (await conn.execute(sa.select(AuditLog).where(
            col(AuditLog.action) == "call.manual_dial"))).all()
    assert [e.details.get("window_override") for e in entries] == [
        "customer asked for an early call"]
    assert str(customer.id) == body["customer_id"]


async def test_given_not_member_when_manual_dial_then_403_names_campaign(api: Api) -> None:
    await _ready_to_dial(api, ALL_DAY)
    await api.user("agent2", Role.AGENT)
    status, body = await api.call("POST", "/api/agent/manual-dial", who="agent2", body={
        "campaign_id": api.campaign_id, "number": NUMBER})
    assert status == 403 and body["details"]["field"] == "campaign_id", body


async def test_given_ready_agent_when_manual_dial_then_409_names_state(api: Api) -> None:
    await _ready_to_dial(api, ALL_DAY)
    await api.call("POST", "/api/agent/ready")
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id, "number": NUMBER})
    assert status == 409 and body["details"]["field"] == "state", body
    # the lead the refused dial claimed is free again (the hopper may take it)
    status, body = await api.call("POST", "/api/agent/pause", body={"pause_code": "manual"})
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id, "number": NUMBER})
    assert status == 200, body


async def test_given_no_number_nor_customer_when_manual_dial_then_400_names_number(
        api: Api) -> None:
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id})
    assert status == 400 and body["details"]["field"] == "number", body
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id, "number": "12"})
    assert status == 400 and "number" in str(body), body


async def test_given_manual_dial_unanswered_when_channel_destroyed_then_agent_paused_again(
        api: Api) -> None:
    customer_id = await _ready_to_dial(api, ALL_DAY)
    status, body = await api.call("POST", "/api/agent/manual-dial", body={
        "campaign_id": api.campaign_id, "customer_id": customer_id})
    assert status == 200, body
    await api.control.emit("ChannelDestroyed", body["call_id"], cause=19)
    status, state = await api.call("GET", "/api/agent/state")
    assert state["state"] == "paused" and state["pause_code"] == "manual", state
