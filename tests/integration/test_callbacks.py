"""Personal callbacks on the sandbox (issue 13 item 3, Done-when): a personal callback is dialed
only for its owner; two SIPp agent phones, the other agent ready first."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ari_app.dialer.events import ScreenPop
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import CRM_NOW, DialerRig, wait_until
from crm.db.models_ops import Lead

MINE, OTHER = "+8613900000010", "+8613900000020"  # sim-pstn: humans who answer


async def test_given_personal_callback_when_other_agent_ready_first_then_dialed_only_for_owner(
    rig: DialerRig, sipp_phone
) -> None:
    campaign_id = await rig.campaign_with_leads("personal-callback", [MINE, OTHER])
    async with rig.crm.engine.begin() as conn:  # agent1050 set it in an earlier call: due now
        await conn.execute(sa.update(Lead).where(Lead.phone_e164 == MINE).values(
            status="callback", next_attempt_at=CRM_NOW - timedelta(minutes=1),
            callback_owner="agent1050"))
    popped: dict[str, set[str]] = {}  # number -> the agents it was popped to

    def record(event: object) -> bool:
        if isinstance(event, ScreenPop):
            popped.setdefault(event.number, set()).add(event.agent_id)
        return False

    rig.bus.subscribe(record)
    await sipp_phone("1049")
    await sipp_phone("1050")
    rig.auto_dispose("not_interested")
    await rig.dialer.login("agent1049", "1049", campaign_id)
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=DialMode.PROGRESSIVE))

    async def other_done_and_dry() -> bool:
        leads = await rig.leads(campaign_id)
        return leads[OTHER].attempts >= 1 and \
            rig.dialer.snapshot().campaigns[0].alarm == "hopper_empty"

    await wait_until(other_done_and_dry, timeout=60,
                     what="agent1049's lead done and the hopper empty for agent1049")
    assert (await rig.leads(campaign_id))[MINE].attempts == 0, "given to the wrong agent"

    await rig.dialer.login("agent1050", "1050", campaign_id)

    async def mine_done() -> bool:
        return (await rig.leads(campaign_id))[MINE].last_outcome == "answered"

    await wait_until(mine_done, timeout=60, what="the personal callback dialed and answered")
    assert popped[MINE] == {"agent1050"}
    assert popped[OTHER] == {"agent1049"}
