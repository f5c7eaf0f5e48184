"""Asterisk's CDRs (AMI ``Cdr`` events from cdr_manager) agree with our call durations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ari_app.ami import AmiClient, AmiConfig
from ari_app.ari import AriConfig
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import DialerRig, wait_until

HUMAN = "+8613900000100"  # answers after 1 s, speaks, stays 5 s more, hangs up (sim-pstn)
BUSY = "+8613900000016"


@pytest.fixture
async def rig(ari_config: AriConfig, tmp_path: Path, ari) -> AsyncIterator[DialerRig]:
    rig = DialerRig(ari_config, tmp_path)
    await rig.start()
    ami = AmiClient(AmiConfig())
    rig.dialer.register_ami(ami)
    await ami.connect()
    yield rig
    await ami.close()
    await rig.close()


async def test_given_bridged_call_when_it_ends_then_cdr_arrives_and_agrees_within_2s(
    rig: DialerRig, sipp_phone
) -> None:
    campaign_id = await rig.campaign_with_leads("cdr", [HUMAN, BUSY])
    await sipp_phone("1016")
    rig.auto_dispose("not_interested")
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, name="cdr",
                                                   mode=DialMode.PROGRESSIVE, ring_timeout_s=6))
    await rig.dialer.login("agent1016", "1016", campaign_id)

    async def both_checked() -> bool:
        return len(rig.dialer.cdr.verdicts) >= 2

    await wait_until(both_checked, timeout=90, what="CDR verdicts for both calls")
    leads = await rig.leads(campaign_id)
    human_call = leads[HUMAN].last_call_id
    busy_call = leads[BUSY].last_call_id
    assert human_call and busy_call
    human = rig.dialer.cdr.verdicts[human_call]
    assert human.cdr_disposition == "ANSWERED" and human.cdr_records >= 2
    assert human.our_answered_seconds > 5 and human.cdr_billsec > 5
    assert abs(human.delta_s) <= 2.0 and not human.mismatch, human
    busy = rig.dialer.cdr.verdicts[busy_call]
    assert (busy.cdr_billsec, busy.cdr_disposition, busy.mismatch) == (0.0, "BUSY", False)
    assert rig.dialer.snapshot().cdr.checked >= 2
    assert rig.dialer.snapshot().cdr.mismatched == 0

    async def in_crm() -> bool:
        return any(e.type == "cdr_checked" and e.call_id == human_call
                   for e in await rig.call_events())

    await wait_until(in_crm, timeout=30, what="the cdr_checked event in the CRM")
    [stored] = [e for e in await rig.call_events()
                if e.type == "cdr_checked" and e.call_id == human_call]
    assert stored.payload["cdr_billsec"] == human.cdr_billsec
    assert stored.payload["cdr_mismatch"] is False
