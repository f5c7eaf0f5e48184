"""Campaigns end to end on the real sandbox: SIPp agent phones, sim-pstn customers, the CRM."""

from __future__ import annotations

import array
import io
import wave
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import CRM_NOW, DialerRig, wait_until
from crm.db.models import Call, Recording

# number → expected outcome (see README, "The simulated PSTN"); E.164 as stored by the CRM.
# 24 leads: 12 humans (ring 1-2 s, talk 5 s), 3 machines, 3 no-answer, 2 busy, 2 unreachable,
# 2 invalid; three agents.
_KINDS = {"0": "answered", "1": "answered", "2": "answered", "3": "answered", "4": "machine",
          "5": "no_answer", "6": "busy", "7": "failed", "8": "invalid_number"}
_LAST = "0123" * 3 + "444555667788"
EXPECTED = {f"+86138001{i:02d}0{i % 2}{d}": _KINDS[d] for i, d in enumerate(_LAST)}
# Retry delays (minutes) after each outcome: the campaign's no-answer/busy/failed settings
# and the CRM's defaults for machines; None: the lead is closed.
RETRY_MINUTES = {"no_answer": 60, "busy": 15, "failed": 30, "machine": 120,
                 "invalid_number": None, "answered": None}
DNC_NUMBER = "+8613800199990"


def peak(audio: bytes) -> int:
    with wave.open(io.BytesIO(audio)) as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return max((abs(s) for s in samples), default=0)


async def run_campaign(rig: DialerRig, sipp_phone, mode: DialMode, agents: int = 3) -> str:
    campaign_id = await rig.campaign_with_leads(
        f"{mode.value} test", [*EXPECTED, DNC_NUMBER])
    await rig.crm.dnc.add(DNC_NUMBER, reason="test: on the do-not-call list")
    for i in range(agents):
        await sipp_phone(str(1011 + i))
    # The simulated agents listen before anything is offered to them.
    rig.auto_dispose("not_interested")
    if mode is DialMode.PREVIEW:
        rig.auto_accept()
    config = CampaignConfig(campaign_id, name="t", mode=mode, ring_timeout_s=6,
                            caller_id="4008888000", wrap_up_limit_s=30)
    await rig.dialer.start_campaign(config)
    for i in range(agents):
        ext = str(1011 + i)
        await rig.dialer.login(f"agent{ext}", ext, campaign_id)
    return campaign_id


async def assert_campaign_done(rig: DialerRig, campaign_id: str) -> None:
    async def all_attempted() -> bool:
        leads = await rig.leads(campaign_id)
        return all(leads[n].attempts >= 1 for n in EXPECTED)

    try:
        await wait_until(all_attempted, timeout=150, what="every lead to be attempted")
    except AssertionError:
        leads = await rig.leads(campaign_id)
        left = {n: (lead.status, lead.attempts, lead.locked_by) for n, lead in leads.items()
                if lead.attempts == 0}
        raise AssertionError(f"not attempted: {left}; dialer: {rig.dialer.snapshot()}") from None
    await wait_until(lambda: _outbox_empty(rig), timeout=30, what="the outbox to drain")
    leads = await rig.leads(campaign_id)
    got = {n: leads[n].last_outcome for n in EXPECTED}
    assert got == EXPECTED
    assert leads[DNC_NUMBER].attempts == 0, "a DNC number was dialed"
    for number, outcome in EXPECTED.items():
        lead = leads[number]
        assert lead.attempts == 1, (number, lead.attempts)
        if outcome == "answered":
            assert lead.status == "done", (number, lead.status)  # not_interested is final
        elif outcome == "invalid_number":
            assert lead.status == "done"
        else:
            assert lead.status == "retry", (number, lead.status)
        delay = RETRY_MINUTES[outcome]
        if delay is None:
            assert lead.next_attempt_at is None, number
        else:
            assert lead.next_attempt_at == CRM_NOW + timedelta(minutes=delay), number

    async with rig.crm.engine.connect() as conn:
        calls = (await conn.execute(sa.select(Call))).all()
        recordings = (await conn.execute(sa.select(Recording))).all()
    assert len(calls) == len(EXPECTED), "one call record per originated call"
    events = await rig.call_events()
    assert len({e.event_id for e in events}) == len(events)
    answered = [c for c in calls if c.outcome == "answered"]
    assert len(answered) == 12
    for call in answered:
        assert call.agent_id is None or call.bridged_at is not None
        assert call.bridged_at is not None and call.talk_seconds and call.talk_seconds > 5
        assert call.disposition == "not_interested"
        assert call.recording_url == f"/api/calls/{call.call_id}/recording"
    assert {r.call_id for r in recordings} == {c.call_id for c in answered}
    for rec in recordings:
        assert rec.size_bytes > 16000 and rec.key_id is not None  # encrypted at rest
        audio = await rig.crm.recordings.plaintext(rec.id)  # only the CRM can read it
        assert len(audio) == rec.size_bytes and peak(audio) > 1000, "recording is silent"


async def _outbox_empty(rig: DialerRig) -> bool:
    stats = await rig.store.outbox_stats()
    return all(lane["pending"] == 0 for lane in stats.values()) and "recordings" in stats


@pytest.mark.parametrize("mode", [DialMode.PREVIEW, DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
async def test_given_campaign_in_mode_when_run_then_every_lead_gets_its_outcome_and_retry(
    rig: DialerRig, sipp_phone, mode: DialMode
) -> None:
    campaign_id = await run_campaign(rig, sipp_phone, mode)
    await assert_campaign_done(rig, campaign_id)
    assert rig.dialer.calls.counters[campaign_id].abandons == 0
