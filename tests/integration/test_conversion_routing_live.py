"""Conversion routing on the sandbox: a senior-route lead is bridged to the senior agent's
SIPp phone (1045) although the standard agent (1046) has been idle longer; the lead's route
comes from the CRM's customer route through the hopper claim."""

from __future__ import annotations

import pytest

from ari_app.dialer.model import AgentState, CallPhase, CampaignConfig, DialMode
from ari_app.testing import DialerRig, wait_until

SENIOR, STANDARD = "agent1045", "agent1046"
NUMBER = "+8613900000010"  # sim-pstn: a human, answers after 2 s, stays ~5 s after speaking


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
async def test_given_senior_route_lead_when_dialed_then_bridged_to_the_senior_agent(
    rig: DialerRig, sipp_phone, mode: DialMode,
) -> None:
    campaign_id = await rig.campaign_with_leads(f"senior-route-{mode.value}", [NUMBER])
    lead = (await rig.leads(campaign_id))[NUMBER]
    await rig.crm.conversion.override(lead.customer_id, "senior", "test: high propensity",
                                      None)
    await sipp_phone("1046")
    await rig.dialer.login(STANDARD, "1046", campaign_id)  # ready first: the longest idle
    await sipp_phone("1045")
    await rig.dialer.login(SENIOR, "1045", campaign_id, senior=True)
    rig.auto_dispose("sale")
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=mode, pacing="ratio",
                                                   dial_ratio=1.0))

    async def bridged() -> bool:
        return any(c.phase is CallPhase.CONNECTED for c in rig.dialer.calls.calls.values())

    await wait_until(bridged, timeout=60, what="the customer to be bridged to an agent")
    call = next(c for c in rig.dialer.calls.calls.values() if c.phase is CallPhase.CONNECTED)
    assert call.route == "senior" and call.agent_id == SENIOR
    assert rig.dialer.agents.sessions[SENIOR].state is AgentState.ON_CALL
    assert rig.dialer.agents.sessions[STANDARD].state is AgentState.READY
    bridges = {b.id: b.channels for b in await rig.dialer.control.list_bridges()}
    assert call.call_id in bridges[f"agentbridge-{SENIOR}"]  # Asterisk's own view
    assert call.call_id not in bridges.get(f"agentbridge-{STANDARD}", [])

    async def disposed() -> bool:
        return (await rig.leads(campaign_id))[NUMBER].last_outcome == "answered"

    await wait_until(disposed, timeout=60, what="the call to end and be disposed")
    events = [r for r in await rig.call_events() if r.call_id == call.call_id]
    bridged_event = next(e for e in events if e.type == "bridged")
    assert bridged_event.payload.get("agent_id") == SENIOR
