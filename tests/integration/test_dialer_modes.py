"""Preview mode, predictive over-dial with safe-harbour, and calling windows, on the sandbox."""

from __future__ import annotations

import asyncio

import pytest

from ari_app.ari import AriEvent
from ari_app.dialer.events import ScreenPop
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import DialerRig, wait_until


async def test_given_preview_when_agent_skips_then_accepts_then_call_bridged_after_accept(
    rig: DialerRig, sipp_phone
) -> None:
    campaign_id = await rig.campaign_with_leads("preview", ["+8613900000090", "+8613900000190"])
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=DialMode.PREVIEW))
    offers = rig.bus.subscribe(lambda e: isinstance(e, ScreenPop))
    await sipp_phone("1041")
    await rig.dialer.login("agent1041", "1041", campaign_id)
    rig.auto_dispose("sale")

    first = await asyncio.wait_for(offers.get(), 10)
    assert isinstance(first, ScreenPop) and first.state == "offered" and not first.call_id
    assert not rig.dialer.calls.calls, "preview: nothing is dialed before the agent accepts"
    await rig.dialer.skip_preview("agent1041", "customer already called today")
    second = await asyncio.wait_for(offers.get(), 10)
    assert isinstance(second, ScreenPop) and second.state == "offered"
    call_id = await rig.dialer.accept_preview("agent1041")

    async def disposed() -> bool:
        leads = await rig.leads(campaign_id)
        return leads[second.number].last_outcome == "answered"

    await wait_until(disposed, timeout=60, what="the accepted lead to be answered and disposed")
    assert call_id.startswith("call-")
    leads = await rig.leads(campaign_id)
    assert leads[second.number].status == "done"  # "sale" is final
    if second.number != first.number:
        assert leads[first.number].attempts == 0  # skipped, never dialed


async def test_given_predictive_overdial_when_no_agent_free_then_safe_harbour_within_limit(
    rig: DialerRig, sipp_phone
) -> None:
    numbers = ["+8613900000000", "+8613900000100", "+8613900000200", "+8613900000300"]
    campaign_id = await rig.campaign_with_leads("overdial", numbers)
    verdicts: dict[str, float] = {}
    harbour: dict[str, float] = {}

    async def watch(event: AriEvent) -> None:
        if event.type == "StasisStart" and event.args[:1] == ("amd",):
            verdicts[event.channel_id or ""] = event.received_at
        if event.type == "PlaybackStarted" and (event.playback_id or "").startswith("safe"):
            harbour[(event.playback_id or "").split(":", 1)[1]] = event.received_at

    rig.stream.on_event.on_any(watch)  # type: ignore[attr-defined]
    await sipp_phone("1042")
    await rig.dialer.login("agent1042", "1042", campaign_id)
    rig.auto_dispose("not_interested")
    await rig.dialer.start_campaign(CampaignConfig(
        campaign_id, mode=DialMode.PREDICTIVE, pacing="ratio", dial_ratio=4.0,
        abandon_after_s=2.0, abandon_brake=False))  # over-dial on purpose (issue 18's brake)

    async def all_done() -> bool:
        leads = await rig.leads(campaign_id)
        return all(lead.attempts >= 1 for lead in leads.values())

    await wait_until(all_done, timeout=90, what="every lead to be attempted")
    leads = await rig.leads(campaign_id)
    abandoned = [n for n, lead in leads.items() if lead.last_outcome == "abandoned"]
    assert abandoned, "one agent, four humans at once: some calls must be abandoned"
    assert rig.dialer.calls.counters[campaign_id].abandons == len(abandoned)
    assert harbour, "abandoned customers heard the safe-harbour message"
    for call_id, started in harbour.items():
        waited = started - verdicts[call_id]
        assert waited <= 2.5, f"safe-harbour began {waited:.2f} s after the answer"
    assert all(leads[n].status == "retry" for n in abandoned)
    status = rig.dialer.snapshot().campaigns[0]
    assert status.abandon_rate == pytest.approx(len(abandoned) / status.live_answers,
                                                   abs=1e-3)


async def test_given_leads_outside_their_local_window_then_never_dialed(
    rig: DialerRig, sipp_phone
) -> None:
    # The CRM's clock says 11:00 in Shanghai: 22:00 the evening before in New York.
    campaign_id = await rig.campaign_with_leads(
        "windows", ["+12125550100", "+8613900000090"])
    await sipp_phone("1043")
    await rig.dialer.login("agent1043", "1043", campaign_id)
    rig.auto_dispose("not_interested")
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=DialMode.PROGRESSIVE))

    async def cn_done() -> bool:
        return (await rig.leads(campaign_id))["+8613900000090"].attempts >= 1

    await wait_until(cn_done, timeout=60, what="the Shanghai lead to be dialed")

    async def alarm_up() -> bool:
        return rig.dialer.snapshot().campaigns[0].alarm == "hopper_empty"

    await wait_until(alarm_up, timeout=30, what="the hopper-empty alarm")
    leads = await rig.leads(campaign_id)
    assert leads["+12125550100"].attempts == 0, "dialed New York at 22:00 local time"
    dialed = {p["number_dialed"] for p in await rig.store.all_payloads("call_events")
              if p["type"] == "originated"}
    assert dialed == {"+8613900000090"}


async def test_given_message_action_when_machine_answers_then_message_left_after_greeting(
    rig: DialerRig, sipp_phone
) -> None:
    from ari_app.dialer.model import MachineAction

    campaign_id = await rig.campaign_with_leads("voicemail", ["+8613900000004"])
    played: list[tuple[str, float]] = []

    async def watch(event: AriEvent) -> None:
        ours = (event.channel_id or "").startswith("call-") and ";2" not in (event.channel_id or "")
        if ours and event.type == "ChannelDialplan" and event.raw.get("dialplan_app") == "Playback":
            played.append((str(event.raw.get("dialplan_app_data")), event.received_at))

    rig.stream.on_event.on_any(watch)  # type: ignore[attr-defined]
    await sipp_phone("1044")
    await rig.dialer.login("agent1044", "1044", campaign_id)
    await rig.dialer.start_campaign(CampaignConfig(
        campaign_id, mode=DialMode.PROGRESSIVE, machine_action=MachineAction.MESSAGE))

    async def done() -> bool:
        return (await rig.leads(campaign_id))["+8613900000004"].attempts >= 1

    await wait_until(done, timeout=60, what="the machine call to end")
    assert [name for name, _ in played] == ["dialcrm/machine-message"]
    assert (await rig.leads(campaign_id))["+8613900000004"].last_outcome == "machine"
