"""Retry rules per outcome on the real sandbox: each outcome's delay and maximum of retries.

The CRM's clock is moved forward between rounds so that retries come due; the dialer (real ARI,
real sim-pstn outcomes) re-claims them from the hopper, and a lead whose retries of an outcome
are used up is closed with the reason and never dialed again.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import CRM_NOW, DialerRig, wait_until
from crm.db.models import Call
from crm.ports import FixedClock

BUSY, MACHINE, FAILED, NO_ANSWER = ("+8613800200016", "+8613800200004", "+8613800200027",
                                    "+8613800200035")
RULES = {
    "max_attempts": 10,
    "retry_busy_minutes": 3, "max_retries_busy": 0,
    "retry_machine_minutes": 11, "max_retries_machine": 1,
    "retry_failed_minutes": 17, "max_retries_failed": 1,
    "retry_no_answer_minutes": 13, "max_retries_no_answer": 2,
}


async def _round(rig: DialerRig, campaign_id: str, expected_attempts: dict[str, int]) -> None:
    async def attempted() -> bool:
        leads = await rig.leads(campaign_id)
        return (all(leads[n].attempts >= a for n, a in expected_attempts.items())
                and not rig.dialer.calls.in_flight(campaign_id))

    await wait_until(attempted, timeout=90, what=f"attempts {expected_attempts}")
    leads = await rig.leads(campaign_id)
    assert {n: leads[n].attempts for n in expected_attempts} == expected_attempts


async def test_given_per_outcome_rules_when_leads_retried_then_delays_and_maximums_hold(
    rig: DialerRig, sipp_phone
) -> None:
    clock = rig.crm.clock
    assert isinstance(clock, FixedClock)
    campaign = await rig.crm.campaigns.create({"name": "retry rules", **RULES})
    campaign_id = str(campaign.id)
    rows = [{"phone": n} for n in (BUSY, MACHINE, FAILED, NO_ANSWER)]
    async for _ in rig.crm.import_leads(campaign.id, rows):
        pass
    for ext in ("1014", "1015"):
        await sipp_phone(ext)
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, name="r", mode=DialMode.PROGRESSIVE,
                                                   ring_timeout_s=6, caller_id="4008888000"))
    for ext in ("1014", "1015"):
        await rig.dialer.login(f"agent{ext}", ext, campaign_id)

    # Round 1: every lead once; each gets its outcome's delay, busy (0 retries) is closed.
    await _round(rig, campaign_id, {BUSY: 1, MACHINE: 1, FAILED: 1, NO_ANSWER: 1})
    leads = await rig.leads(campaign_id)
    assert {n: lead.last_outcome for n, lead in leads.items()} == {
        BUSY: "busy", MACHINE: "machine", FAILED: "failed", NO_ANSWER: "no_answer"}
    assert (leads[BUSY].status, leads[BUSY].close_reason) == ("exhausted",
                                                              "busy retries exhausted (0)")
    t0 = CRM_NOW
    assert leads[MACHINE].next_attempt_at == t0 + timedelta(minutes=11)
    assert leads[FAILED].next_attempt_at == t0 + timedelta(minutes=17)
    assert leads[NO_ANSWER].next_attempt_at == t0 + timedelta(minutes=13)

    # Round 2 at +17 min: machine, failed and no-answer are due again.
    clock.advance(timedelta(minutes=17))
    t1 = clock.now()
    await _round(rig, campaign_id, {BUSY: 1, MACHINE: 2, FAILED: 2, NO_ANSWER: 2})
    leads = await rig.leads(campaign_id)
    assert (leads[MACHINE].status, leads[MACHINE].close_reason) == (
        "exhausted", "machine retries exhausted (1)")
    assert (leads[FAILED].status, leads[FAILED].close_reason) == (
        "exhausted", "failed retries exhausted (1)")
    assert leads[NO_ANSWER].status == "retry"
    assert leads[NO_ANSWER].next_attempt_at == t1 + timedelta(minutes=13)
    assert leads[NO_ANSWER].outcome_counts == {"no_answer": 2}

    # Round 3 at +13 min more: only the no-answer lead; its third no-answer closes it.
    clock.advance(timedelta(minutes=13))
    await _round(rig, campaign_id, {BUSY: 1, MACHINE: 2, FAILED: 2, NO_ANSWER: 3})
    leads = await rig.leads(campaign_id)
    assert (leads[NO_ANSWER].status, leads[NO_ANSWER].close_reason) == (
        "exhausted", "no_answer retries exhausted (2)")

    # Nothing else is dialed however long we wait: the hopper reports itself empty.
    clock.advance(timedelta(days=1))

    async def alarmed() -> bool:
        return rig.dialer.runners[campaign_id].alarm == "hopper_empty"

    await wait_until(alarmed, timeout=15, what="the hopper_empty alarm")
    leads = await rig.leads(campaign_id)
    assert sum(lead.attempts for lead in leads.values()) == 8

    async def drained() -> bool:
        stats = await rig.store.outbox_stats()
        return all(lane["pending"] == 0 for lane in stats.values())

    await wait_until(drained, timeout=30, what="the outbox to drain")
    async with rig.crm.engine.connect() as conn:
        calls = (await conn.execute(sa.select(Call))).all()
    assert rig.dialer.calls.counters[campaign_id].dials == 8
    assert len(calls) == 8, "one call record per originated call"
