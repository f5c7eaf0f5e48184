"""The whole live path on the real sandbox: a sim-pstn human says "...the price is too expensive
for us. Please call me next week."; the fork transcribes it during the call; the CRM's in-call
rules create the quote and callback tasks and push the discount suggestion to the agent (SIPp
phone 1005) before the call ends.

Prints the issue's figure: end of the spoken trigger phrase → task committed in the CRM.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ari_app.settings import DialerSettings
from ari_app.speech.fork import ForkConfig
from ari_app.speech.live import AudioForks
from ari_app.testing import DialerRig
from crm.db.models import Task
from crm.db.models_speech import RuleFiringRow
from crm.domain.enums import Role
from tests.helpers.audio_fork import one_call
from web.transcripts.wiring import pool_from, prompt_for

EXTENSION = "1005"


class Pushed:
    """The agent's socket, in-process: every live message with its arrival time."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, dict[str, Any]]] = []

    def deliver(self, agent_id: str, message: Mapping[str, Any]) -> int:
        self.sent.append((time.time(), agent_id, dict(message)))
        return 1

    def of(self, kind: str, call_id: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, m) for at, _, m in self.sent
                if m["type"] == kind and m.get("call_id") == call_id]


async def test_given_customer_objects_on_a_real_call_then_tasks_and_suggestion_during_call(
    rig: DialerRig, sipp_phone
) -> None:
    crm = rig.crm
    await crm.rules.seed_defaults_if_empty()
    agent = await crm.auth.create_user(f"agent{EXTENSION}", Role.AGENT, password=None)
    pushed = Pushed()
    crm.attach_live(pushed)
    pool = pool_from(DialerSettings())
    await pool.start()
    forks = AudioForks(rig.dialer.control, pool, rig.dialer.record_transcript,  # type: ignore[arg-type]
                       ForkConfig(), prompt_for(rig.dialer))
    try:
        call_id, ended_at, recorded = await one_call(rig, forks, EXTENSION, sipp_phone)
        fork = forks.finished[call_id]
    finally:
        await forks.close()
        await pool.stop()

    said = [s for _, s in recorded.of_call(call_id)
            if s["speaker"] == "customer" and not s.get("gap")]
    print("customer said:", [s["text"] for s in said])
    async with crm.engine.connect() as conn:
        firings = list((await conn.execute(sa.select(RuleFiringRow).where(
            RuleFiringRow.call_id == call_id))).all())
        tasks = list((await conn.execute(sa.select(Task).where(Task.call_id == call_id))).all())
    print("firings:", [(f.rule_id, f.action, f.evidence) for f in firings])
    fired = {f.rule_id for f in firings}
    assert "quote-on-price" in fired, f"transcript: {[s['text'] for s in said]}"
    quote = next(t for t in tasks if t.title == "24小时内发送报价")
    assert quote.owner_id == agent.id and quote.origin == "rule"
    lines = pushed.of("transcript", call_id)
    assert lines and lines[0][0] < ended_at, "a transcript line reached the agent during the call"
    created = pushed.of("task_created", call_id)
    assert created and created[0][0] < ended_at, "the task was pushed before the call ended"
    if "discount-on-objection" in fired:
        assert pushed.of("suggestion", call_id)[0][0] < ended_at

    t0_wall = time.time() - (time.monotonic() - fork.legs[0].t0)
    trigger = next(s for s in said if "price" in s["text"].lower())
    lag = created[0][0] - (t0_wall + trigger["end_s"])
    print(f"\nRULES FIGURES: end of the trigger phrase -> task committed and pushed: {lag:.2f} s "
          f"(call ended {ended_at - created[0][0]:.1f} s after the task); rules fired: "
          f"{sorted(fired)}")
