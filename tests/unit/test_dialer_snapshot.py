"""The typed dialer snapshot keeps the JSON the API and the pushes always sent (keys, their
order, the enum values as strings)."""

from __future__ import annotations

import json

from ari_app.dialer.model import AgentState, CallPhase, DialMode
from ari_app.dialer.snapshot import (
    AgentSnapshot,
    CallSnapshot,
    CampaignSnapshot,
    CdrSnapshot,
    DialerSnapshot,
    ForwarderSnapshot,
)


def _snapshot() -> DialerSnapshot:
    return DialerSnapshot(
        worker="dialer-1",
        agents=(AgentSnapshot("a1", AgentState.ON_CALL, extension="1001", campaign_id="c1",
                              seconds_in_state=3.2, call_id="call-1", senior=True),),
        campaigns=(CampaignSnapshot("c1", "Spring", DialMode.PREDICTIVE, running=True,
                                    alarm=None, pacing="model", pacing_reason="ok", hopper=4,
                                    dials=10, live_answers=4, abandons=1, machines=2,
                                    connects=3, abandon_rate=0.25, abandon_target=0.03),),
        calls=(CallSnapshot("call-1", "c1", "+8613800138000", CallPhase.CONNECTED, "a1"),),
        forwarders=(ForwarderSnapshot("attempts", 5, 1, "boom", 0.2),),
        cdr=CdrSnapshot(checked=2, pending=1, tolerance_s=2.0),
    )


def test_given_snapshot_when_as_json_then_the_status_shape_in_order() -> None:
    body = _snapshot().as_json()
    assert list(body) == ["worker", "agents", "campaigns", "calls", "forwarders", "cdr"]
    assert body["agents"] == [{
        "agent_id": "a1", "extension": "1001", "campaign_id": "c1", "state": "on_call",
        "seconds_in_state": 3.2, "pause_code": None, "call_id": "call-1",
        "seniority": "senior", "on_hold": False, "muted": False, "hold_seconds": 0.0}]
    assert list(body["agents"][0]) == ["agent_id", "extension", "campaign_id", "state",
                                       "seconds_in_state", "pause_code", "call_id", "seniority",
                                       "on_hold", "muted", "hold_seconds"]
    assert list(body["campaigns"][0]) == [
        "campaign_id", "name", "mode", "running", "alarm", "pacing", "pacing_reason", "hopper",
        "dials", "live_answers", "abandons", "machines", "connects", "abandon_rate",
        "abandon_target"]
    assert body["campaigns"][0]["mode"] == "predictive"
    assert body["calls"] == [{"call_id": "call-1", "campaign_id": "c1",
                              "number": "+8613800138000", "phase": "connected",
                              "agent_id": "a1"}]
    assert body["forwarders"] == {"attempts": {"delivered": 5, "failures": 1,
                                               "last_error": "boom", "last_lag_s": 0.2}}
    assert body["cdr"] == {"checked": 2, "mismatched": 0, "missing": 0, "max_abs_delta_s": 0.0,
                           "pending": 1, "tolerance_s": 2.0}
    json.dumps(body)  # plain JSON types only


def test_given_logged_out_agent_when_as_json_then_only_id_and_state() -> None:
    view = AgentSnapshot.logged_out("a9")
    assert view.as_json() == {"agent_id": "a9", "state": "logged_out"}
    assert _snapshot().agent("a1") is not None and _snapshot().agent("a9") is None
