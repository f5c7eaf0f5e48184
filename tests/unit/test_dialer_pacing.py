"""The pacing port: the fixed ratio, and predictive's model policy behind the adapter."""

from __future__ import annotations

from ari_app.dialer.calls import CampaignCounters
from ari_app.dialer.model import CallAttempt, CampaignConfig, DialMode, Outcome
from ari_app.dialer.pacing import ModelPacing, PacingView, RatioPacing


def view(ready: int, hopper: int = 40, counters: CampaignCounters | None = None) -> PacingView:
    return PacingView(
        config=CampaignConfig("c1", mode=DialMode.PREDICTIVE, dial_ratio=2.0), now=10_000.0,
        ready=tuple((f"a{i}", 9_990.0) for i in range(ready)), busy=(), in_flight=(), waiting=0,
        hopper=tuple((f"l{i}", 0.3, None) for i in range(hopper)), logged_in=ready,
        counters=counters or CampaignCounters(),
    )


def test_given_ratio_pacing_then_lines_per_ready_agent() -> None:
    assert RatioPacing().plan(view(3)).count == 6


def warm(pacing: ModelPacing, attempts: int = 300) -> None:
    for i in range(attempts):
        call = CallAttempt(f"call-{i}", "c1", f"l{i}", "cust", "+8613900000000",
                           originated_at=float(i), p_answer=0.3)
        if i % 10 < 3:  # 30 % live answers after 8 s of ringing, 60 s talks
            call.answered_at, call.bridged_at = i + 8.0, i + 8.0
            pacing.observe_live(call, abandoned=False)
            call.ended_at, call.outcome = i + 68.0, Outcome.ANSWERED
            pacing.observe_end(call)
            pacing.observe_wrap(10.0)
        else:
            call.ended_at, call.outcome = i + 25.0, Outcome.NO_ANSWER
            pacing.observe_end(call)


def test_given_no_history_when_planning_then_progressive_fallback() -> None:
    plan = ModelPacing().plan(view(10))
    assert plan.count == 10 and "falling back to progressive" in plan.reason


def test_given_history_at_30_percent_when_ten_agents_ready_then_overdials() -> None:
    pacing = ModelPacing()
    warm(pacing)
    plan = pacing.plan(view(10, counters=CampaignCounters(dials=300, live_answers=90,
                                                          connects=90)))
    assert plan.reason.startswith("predictive:"), plan.reason
    assert 10 < plan.count <= 40, plan


def test_given_amd_after_answer_when_live_observed_then_ring_time_is_dial_to_handoff() -> None:
    # issue 18 #5: the customer's channel answers 8 s after the dial, AMD's verdict hands the
    # call on 3 s later: pacing's ring time (time to hand-off, types.py) is 11 s, not 8 s
    pacing = ModelPacing()
    call = CallAttempt("call-1", "c1", "l1", "cust", "+8613900000000", originated_at=100.0,
                       answered_at=108.0, handed_at=111.0, bridged_at=111.0)
    pacing.observe_live(call, abandoned=False)
    pmf = pacing.policy.estimator.estimates().ring_pmf
    assert max(range(len(pmf)), key=pmf.__getitem__) == 11
    assert pmf[11] > pmf[8]


def test_given_leads_of_a_list_when_calls_end_then_the_pacing_learns_that_list() -> None:
    """The dialer hands each call's list to the pacing (issue 18 item 2)."""
    pacing = ModelPacing()
    for i in range(12):
        call = CallAttempt(f"call-{i}", "c1", f"l{i}", "cust", "+8613900000000",
                           originated_at=float(i), p_answer=0.3, list_id="2026-12-07T14")
        call.answered_at, call.bridged_at = i + 2.0, i + 2.0  # a list that answers at once
        pacing.observe_live(call, abandoned=False)
    est = pacing.policy.estimator
    assert est.lists.attempts("2026-12-07T14") == 12
    assert est.estimates().list_scales["2026-12-07T14"] * 0.3 > 0.8


def test_given_lead_creation_times_when_listed_then_one_list_per_import_hour() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from ari_app.dialer.ports import lead_list_of

    at = datetime(2026, 12, 7, 14, 5, tzinfo=UTC)
    assert lead_list_of(at) == lead_list_of(at + timedelta(minutes=20)) == "2026-12-07T14"
    assert lead_list_of(at.isoformat()) == "2026-12-07T14"
    assert lead_list_of(at.astimezone(timezone(timedelta(hours=8)))) == "2026-12-07T14"
    assert lead_list_of(None) is None and lead_list_of("garbage") is None
