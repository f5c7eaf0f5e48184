"""Manual dial (click-to-call, issue 13 item 2) on the real sandbox: a paused agent on a SIPp
phone dials a sim-pstn human by hand; the call goes the campaign's way (its channel template),
is bridged to the agent, recorded, and lands in the CRM with its recording."""

from __future__ import annotations

import array
import uuid

import sqlalchemy as sa
from sqlmodel import col

from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.dialer.ports import Lead
from ari_app.testing import DialerRig, wait_until
from crm.db.models import Call, Recording
from crm.domain.access import Principal
from crm.domain.enums import Role
from crm.services.customers import CustomerInput

HUMAN = "+8613800147000"  # sim-pstn: answers after 1 s, talks 5 s, hangs up


def peak(wav: bytes) -> int:
    samples = array.array("h", wav[44:])
    return max((abs(s) for s in samples), default=0)


async def test_given_paused_agent_when_manual_dial_to_human_then_bridged_recorded_in_crm(
    rig: DialerRig, sipp_phone
) -> None:
    campaign = await rig.crm.campaigns.create({"name": "manual", "max_attempts": 3})
    user = await rig.crm.auth.create_user("agent1047", Role.AGENT, password="pw-123456789")
    await rig.crm.members.add(campaign.id, "agent1047", None)
    customer, _ = await rig.crm.customers.create(CustomerInput(name="张伟", phones=[HUMAN]))
    # preview: the campaign offers nothing to a paused agent; only the manual dial rings
    await rig.dialer.start_campaign(CampaignConfig(str(campaign.id), mode=DialMode.PREVIEW))
    await sipp_phone("1047")
    await rig.dialer.login("agent1047", "1047", str(campaign.id))
    await rig.dialer.pause("agent1047", "manual")
    rig.auto_dispose("sale")

    who = Principal(user.id, "agent1047", Role.AGENT)
    found = await rig.crm.manual_dial.prepare(who, campaign.id, worker=rig.dialer.worker,
                                              customer_id=customer.id)
    assert found.e164 == HUMAN
    call_id = await rig.dialer.manual_dial("agent1047", Lead(
        str(found.lead_id), str(campaign.id), str(customer.id), found.e164))

    bridged = await rig.events.wait_for(
        lambda e: e.type == "ChannelEnteredBridge" and e.channel_id == call_id, timeout=20)
    assert bridged.bridge_id == rig.dialer.agents.get("agent1047").bridge_id

    async def recorded() -> bool:
        async with rig.crm.engine.connect() as conn:
            row = (await conn.execute(sa.select(Call).where(col(Call.call_id) == call_id))).first()
            rec = (await conn.execute(sa.select(Recording).where(
                col(Recording.call_id) == call_id))).first()
        return bool(row and row.disposition == "sale" and rec is not None)

    await wait_until(recorded, timeout=60, what="the manual call disposed and recorded in the CRM")
    async with rig.crm.engine.connect() as conn:
        call = (await conn.execute(sa.select(Call).where(col(Call.call_id) == call_id))).one()
        rec = (await conn.execute(sa.select(Recording).where(
            col(Recording.call_id) == call_id))).one()
    assert call.outcome == "answered" and call.bridged_at is not None
    assert call.agent_id is not None and str(call.customer_id) == str(customer.id)
    assert call.campaign_id == campaign.id
    audio = await rig.crm.recordings.plaintext(rec.id)
    assert peak(audio) > 1000, "the manual call's recording is silent"
    leads = await rig.leads(str(campaign.id))
    assert leads[HUMAN].last_call_id == call_id and leads[HUMAN].status == "done"
    assert leads[HUMAN].locked_by is None
    assert uuid.UUID(str(leads[HUMAN].customer_id)) == customer.id
