"""The opt-out key on the sandbox (issue 14 item 1): an abandoned customer hears the
safe-harbour message, presses 9 (``SendDTMF`` in ``sim-pstn-optout``), and the number is on the
DNC list, the call flagged ``opted_out``; a customer talking to an agent who presses 9 is not."""

from __future__ import annotations

import pytest

from ari_app.ari import AriEvent
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import DialerRig, wait_until

pytestmark = pytest.mark.integration


async def test_given_safe_harbour_when_customer_presses_9_then_number_on_dnc_list(
    rig: DialerRig, sipp_phone
) -> None:
    numbers = ["+8613900000000", "+8613900000100", "+8613900000200", "+8613900000300"]
    campaign_id = await rig.campaign_with_leads("optout", numbers)
    harbour: set[str] = set()
    confirmed: set[str] = set()

    async def watch(event: AriEvent) -> None:
        playback = event.playback_id or ""
        if event.type == "PlaybackStarted" and playback.startswith("safeharbour:"):
            harbour.add(playback.split(":", 1)[1])
        if event.type == "PlaybackFinished" and playback.startswith("optout:"):
            confirmed.add(playback.split(":", 1)[1])

    rig.stream.on_event.on_any(watch)  # type: ignore[attr-defined]
    await sipp_phone("1044")
    await rig.dialer.login("agent1044", "1044", campaign_id)
    rig.auto_dispose("not_interested")
    await rig.dialer.start_campaign(CampaignConfig(
        campaign_id, mode=DialMode.PREDICTIVE, pacing="ratio", dial_ratio=4.0,
        abandon_after_s=2.0, abandon_brake=False,  # over-dial on purpose: abandons
        channel_template="Local/{number}@sim-pstn-optout"))

    async def all_done() -> bool:
        leads = await rig.leads(campaign_id)
        return all(lead.attempts >= 1 for lead in leads.values())

    await wait_until(all_done, timeout=120, what="every lead to be attempted")
    leads = await rig.leads(campaign_id)
    abandoned = [n for n, lead in leads.items() if lead.last_outcome == "abandoned"]
    assert abandoned, "one agent, four humans at once: some calls must be abandoned"
    assert harbour, "abandoned customers heard the safe-harbour message"
    assert confirmed == harbour, "each opted-out customer heard the confirmation to its end"

    async def all_on_dnc() -> bool:
        return all([await rig.crm.is_dnc(n) for n in abandoned])

    await wait_until(all_on_dnc, timeout=30, what="the abandoned numbers on the DNC list")
    talked = [n for n, lead in leads.items() if lead.last_outcome == "answered"]
    for number in talked:  # pressed 9 too, but to an agent, not during a prompt
        assert not await rig.crm.is_dnc(number), f"{number} talked to an agent"

    async def flagged() -> bool:
        found = set()
        for call_id in harbour:
            call, _ = await rig.crm.calls.get(call_id)
            if call.disposition == "opted_out":
                found.add(call_id)
        return found == harbour

    await wait_until(flagged, timeout=30, what="the opted-out calls flagged in the CRM")
