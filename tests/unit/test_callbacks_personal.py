"""Callbacks that belong to someone (issue 13 item 3): the claim rule (pure), the CRM's hopper
(SQL) and the dialer's reservation hand a personal callback only to its owner; an absent
owner's callback falls back to the campaign after the grace, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import InvalidRequest
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.dialer.ports import Lead
from crm.db.models_ops import AuditLog
from crm.domain.callbacks import CallbackScope, ClaimFor, callback_owner, claimable, fallen_back
from crm.domain.enums import AttemptOutcome, LeadStatus
from crm.ports import FixedClock
from crm.service import CrmService
from tests.helpers.dialer_fakes import FakeControl, FakeCrm, lead, running_dialer, until

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
GRACE = timedelta(minutes=30)


# ------------------------------------------------------------------ the rule (pure) --
def test_given_personal_callback_when_owner_claims_then_only_the_owner_gets_it() -> None:
    assert claimable("amy", T0, T0, ClaimFor(("amy",)))
    assert not claimable("amy", T0, T0, ClaimFor(("bob",)))
    assert not claimable(None, T0, T0, ClaimFor(("amy",)))  # an owners' claim: only theirs


def test_given_personal_callback_when_general_claim_then_held_while_owner_present() -> None:
    late = T0 + timedelta(hours=3)
    assert claimable(None, T0, T0, ClaimFor())  # a campaign callback: anyone
    assert not claimable("amy", T0, late, ClaimFor((), ("amy",), GRACE))  # owner logged in
    assert not claimable("amy", T0, T0 + GRACE - timedelta(seconds=1),
                         ClaimFor((), ("bob",), GRACE))  # owner away, grace not over
    assert claimable("amy", T0, T0 + GRACE, ClaimFor((), ("bob",), GRACE))  # falls back


def test_given_naive_due_time_when_checking_fallback_then_read_as_utc() -> None:
    naive = T0.replace(tzinfo=None)
    assert fallen_back("amy", naive, T0 + GRACE, (), GRACE)
    assert not fallen_back("amy", naive, T0, (), GRACE)


def test_given_wrap_up_scope_when_choosing_callback_owner_then_personal_is_the_agent() -> None:
    assert callback_owner(CallbackScope.PERSONAL, "amy") == "amy"
    assert callback_owner("campaign", "amy") is None
    assert callback_owner(None, "amy") is None
    with pytest.raises(ValueError):
        callback_owner("everyone", "amy")


# ------------------------------------------------------------------- the CRM's hopper --
async def _personal_callback(svc: CrmService, clock: FixedClock,
                             owner: str | None) -> tuple[uuid.UUID, uuid.UUID]:
    campaign = await svc.campaigns.create({"name": "cb", "max_attempts": 5})
    async for _ in svc.import_leads(campaign.id, [{"name": "王芳", "phone": "13800000001"}]):
        pass
    (view,) = await svc.claim_leads(campaign.id, "w1", 1)
    due = clock.now() + timedelta(minutes=10)
    after = await svc.record_attempt(view.id, AttemptOutcome.ANSWERED, worker="w1",
                                     disposition="callback", callback_at=due,
                                     callback_owner=owner)
    assert after.status is LeadStatus.CALLBACK and after.callback_owner == owner
    clock.advance(timedelta(minutes=11))
    return campaign.id, view.id


async def test_given_personal_callback_when_claimed_then_only_for_its_owner(
        crm_service, crm_clock) -> None:  # type: ignore[no-untyped-def]
    cid, lead_id = await _personal_callback(crm_service, crm_clock, "amy")
    present = ClaimFor((), ("amy", "bob"), GRACE)
    assert await crm_service.claim_leads(cid, "w1", 5, who=present) == []
    assert await crm_service.claim_leads(cid, "w1", 5, who=ClaimFor(("bob",))) == []
    (mine,) = await crm_service.claim_leads(cid, "w1", 5, who=ClaimFor(("amy",)))
    assert mine.id == lead_id and mine.callback_owner == "amy"


async def test_given_owner_away_past_grace_when_general_claim_then_campaign_dials_it_audited(
        crm_service, crm_clock) -> None:  # type: ignore[no-untyped-def]
    cid, lead_id = await _personal_callback(crm_service, crm_clock, "amy")
    away = ClaimFor((), ("bob",), GRACE)
    assert await crm_service.claim_leads(cid, "w1", 5, who=away) == []  # within the grace
    crm_clock.advance(GRACE)
    (fell,) = await crm_service.claim_leads(cid, "w1", 5, who=away)
    assert fell.id == lead_id and fell.callback_owner is None
    async with crm_service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(AuditLog.entity_id, AuditLog.details).where(
            AuditLog.action == "callback.fallback"))).all()
    assert [(r[0], r[1]["owner"]) for r in rows] == [(str(lead_id), "amy")]


async def test_given_personal_callback_unanswered_when_retried_then_still_the_owners(
        crm_service, crm_clock) -> None:  # type: ignore[no-untyped-def]
    cid, _ = await _personal_callback(crm_service, crm_clock, "amy")
    (mine,) = await crm_service.claim_leads(cid, "w1", 5, who=ClaimFor(("amy",)))
    after = await crm_service.record_attempt(mine.id, AttemptOutcome.NO_ANSWER, worker="w1")
    assert after.status is LeadStatus.RETRY and after.callback_owner == "amy"


async def test_given_campaign_callback_when_general_claim_then_anyone(
        crm_service, crm_clock) -> None:  # type: ignore[no-untyped-def]
    cid, lead_id = await _personal_callback(crm_service, crm_clock, None)
    (anyone,) = await crm_service.claim_leads(cid, "w1", 5, who=ClaimFor((), ("amy",), GRACE))
    assert anyone.id == lead_id


# ------------------------------------------------------------- the dialer's reservation --
@pytest.fixture
async def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    control = FakeControl()
    mine = Lead("lead-cb", "c1", "cust-cb", "+8613800138099", owner="a2")
    crm = FakeCrm([mine, lead(0), lead(1)])
    async with running_dialer(tmp_path, crm, control) as dialer:
        yield dialer, control, crm


async def test_given_two_ready_agents_when_progressive_then_personal_callback_goes_to_owner(
        rig) -> None:  # type: ignore[no-untyped-def]
    dialer, control, crm = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: dialer.agents.sessions["a1"].state is AgentState.RESERVED)
    assert all(c.lead_id != "lead-cb" for c in dialer.calls.calls.values())  # a1 never gets it
    await dialer.login("a2", "1002", "c1")
    await until(lambda: dialer.agents.sessions["a2"].state is AgentState.RESERVED)
    by_agent = {c.agent_id: c.lead_id for c in dialer.calls.calls.values()}
    assert by_agent["a2"] == "lead-cb" and by_agent["a1"] != "lead-cb"
    general = [w for w in crm.claims if not w.owners]
    assert general and all(set(w.present) <= {"a1", "a2"} for w in general)


async def test_given_wrap_up_when_callback_scope_personal_then_attempt_owned_by_agent(
        rig) -> None:  # type: ignore[no-untyped-def]
    dialer, control, crm = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: dialer.agents.sessions["a1"].call_id is not None)
    call_id = dialer.agents.sessions["a1"].call_id
    await control.emit("StasisStart", call_id, ["customer"])
    await control.emit("StasisStart", call_id, ["amd", "HUMAN", "x"])
    await control.emit("ChannelDestroyed", call_id, cause=16)
    assert dialer.agents.sessions["a1"].state is AgentState.WRAP_UP
    when = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(InvalidRequest) as bad:
        await dialer.dispose("a1", "callback", callback_at=when, callback_scope="everyone")
    assert bad.value.field == "callback_scope"
    await dialer.dispose("a1", "callback", callback_at=when, callback_scope="personal")
    await until(lambda: any(a.get("callback_owner") == "a1" for a in crm.attempts))


class _PausesDuringCallbackClaim(FakeCrm):
    """The agent pauses while the dialer asks for their own callbacks (a real race: the
    CRM claim is an await)."""

    def __init__(self) -> None:
        super().__init__([])
        self.dialer: Dialer | None = None

    async def claim(self, campaign_id: str, worker: str, limit: int,
                    who: ClaimFor | None = None):  # type: ignore[no-untyped-def]
        if who is not None and who.owners and self.dialer is not None:
            await self.dialer.pause("a1", "lunch")
        return await super().claim(campaign_id, worker, limit, who)


async def test_given_agent_paused_during_callback_claim_when_hopper_empty_then_alarm_raised(
        tmp_path: Path) -> None:
    crm = _PausesDuringCallbackClaim()
    async with running_dialer(tmp_path, crm) as dialer:
        crm.dialer = dialer
        await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
        await dialer.login("a1", "1001", "c1")
        await until(lambda: dialer.agents.sessions["a1"].state is AgentState.PAUSED)
        # the pooled claim still ran (no lead), so the empty hopper is seen and alarmed
        await until(lambda: dialer.runners["c1"].hopper_alarm == "hopper_empty")
