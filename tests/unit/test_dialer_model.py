"""The dialer's pure domain: outcomes from Asterisk's words, agent states, campaign settings."""

from __future__ import annotations

import pytest

from ari_app.dialer.model import (
    AgentSession,
    AgentState,
    CampaignConfig,
    IllegalTransition,
    InvalidCampaignConfig,
    Outcome,
    classify_outcome,
)


@pytest.mark.parametrize(
    ("answered", "dial", "cause", "amd", "abandoned", "expected"),
    [
        (True, "ANSWER", 16, "HUMAN", False, Outcome.ANSWERED),
        (False, "ANSWER", 16, "MACHINE", False, Outcome.MACHINE),
        (False, "ANSWER", 16, "HUMAN", True, Outcome.ABANDONED),
        (False, "BUSY", 0, None, False, Outcome.BUSY),  # Local channel: cause 0 on busy
        (False, None, 17, None, False, Outcome.BUSY),  # PJSIP 486
        (False, "CONGESTION", 0, None, False, Outcome.FAILED),
        (False, None, 34, None, False, Outcome.FAILED),
        (False, "NOANSWER", 1, None, False, Outcome.INVALID_NUMBER),  # Hangup(1) / SIP 404
        (False, "RINGING", 19, None, False, Outcome.NO_ANSWER),  # ring timeout
        (False, None, 18, None, False, Outcome.NO_ANSWER),  # no SIP listener
        (False, None, None, None, False, Outcome.FAILED),  # originate refused
    ],
)
def test_given_asterisk_verdict_when_classified_then_outcome(
    answered, dial, cause, amd, abandoned, expected
) -> None:
    got = classify_outcome(answered=answered, dial_status=dial, cause=cause, amd_status=amd,
                           abandoned=abandoned)
    assert got is expected


def session() -> AgentSession:
    return AgentSession("a1", "1001", "c1", "leg", "bridge")


def test_given_ready_agent_when_reserved_then_on_call_then_wrap_up_then_ready() -> None:
    agent = session()
    for state in (AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL,
                  AgentState.WRAP_UP, AgentState.READY):
        agent.move(state, 1.0)
    assert agent.state is AgentState.READY and agent.call_id is None


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((AgentState.READY, AgentState.ON_CALL), AgentState.PAUSED),  # pause mid-call
        ((AgentState.READY,), AgentState.WRAP_UP),
        ((AgentState.READY, AgentState.ON_CALL, AgentState.WRAP_UP), AgentState.ON_CALL),
    ],
)
def test_given_state_when_illegal_move_then_raises(path, illegal) -> None:
    agent = session()
    for state in path:
        agent.move(state, 1.0)
    with pytest.raises(IllegalTransition):
        agent.move(illegal, 2.0)


def test_given_pause_code_when_paused_then_kept_and_cleared_on_ready() -> None:
    agent = session()
    agent.move(AgentState.PAUSED, 1.0, pause_code="lunch")
    assert agent.pause_code == "lunch"
    agent.move(AgentState.READY, 2.0)
    assert agent.pause_code is None and agent.since == 2.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel_template": "Local/x@sim-pstn"}, "channel_template"),
        ({"ring_timeout_s": 2}, "ring_timeout_s"),
        ({"abandon_after_s": 30}, "abandon_after_s"),
        ({"dial_ratio": 0.5}, "dial_ratio"),
        ({"max_lines": 0}, "max_lines"),
    ],
)
def test_given_bad_campaign_setting_then_error_names_field(kwargs, field) -> None:
    with pytest.raises(InvalidCampaignConfig) as caught:
        CampaignConfig("c1", **kwargs)
    assert caught.value.problems[0][0] == field


def test_given_templates_then_endpoint_formats_the_number() -> None:
    assert CampaignConfig("c").endpoint("+8613800138000") == "Local/+8613800138000@sim-pstn"
    trunk = CampaignConfig("c", channel_template="PJSIP/{number}@trunk")
    assert trunk.endpoint("13800138000") == "PJSIP/13800138000@trunk"
