"""The pop experiment end to end on the sandbox: two SIPp agents split on/off by the experiment,
a progressive campaign, pops pushed only to the 'on' agent, and the report reading the calls
(talk time, conversion) per variant from the CRM's call records."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.testing import DialerRig, wait_until
from crm.db.models import Call
from crm.domain.enums import Role
from crm.experiments.assign import Variant, assign_variant
from crm.pops import PopHub
from web.agent.pops import PopBridge

# humans answering after 1 s, staying 5 s after speaking (README: the simulated PSTN)
NUMBERS = ["+8613900000000", "+8613900000001", "+8613900000002", "+8613900000003"]


class RecordingHub(PopHub):
    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, list[dict[str, Any]]] = {}

    def deliver(self, agent_id: str, message: Mapping[str, Any]) -> int:
        self.sent.setdefault(agent_id, []).append(dict(message))
        return super().deliver(agent_id, message)


async def test_given_pop_experiment_when_campaign_runs_then_pops_split_and_report_per_variant(
    rig: DialerRig, sipp_phone
) -> None:
    exp = await rig.crm.experiments.create({
        "key": "pop-sandbox", "name": "pop on/off", "feature": "pop", "unit": "agent",
        "variants": [{"name": "on", "weight": 1}, {"name": "off", "weight": 1}]})
    variants = [Variant("on", 1), Variant("off", 1)]
    agents: dict[str, str] = {}
    for i in range(100):
        agents.setdefault(assign_variant(str(exp.id), f"pilot{i}", variants), f"pilot{i}")
    on, off = agents["on"], agents["off"]
    for name in (on, off):  # the dialer's agent id is the CRM username
        await rig.crm.auth.create_user(name, Role.AGENT, password="password-1")
    hub = RecordingHub()
    bridge = PopBridge(rig.bus, hub, rig.crm, gate=rig.crm.experiments)
    bridge.start()
    try:
        campaign_id = await rig.campaign_with_leads("pop-experiment", NUMBERS)
        await sipp_phone("1039")
        await sipp_phone("1040")
        await rig.dialer.login(on, "1039", campaign_id)
        await rig.dialer.login(off, "1040", campaign_id)
        rig.auto_dispose("sale")
        started = time.monotonic()
        await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=DialMode.PROGRESSIVE))

        async def all_disposed() -> bool:
            async with rig.crm.engine.connect() as conn:
                done = await conn.scalar(sa.select(sa.func.count()).select_from(Call).where(
                    Call.disposition.is_not(None)))  # type: ignore[union-attr]
            return int(done or 0) == len(NUMBERS)

        await wait_until(all_disposed, 120, "every lead called, talked to and disposed")
        print(f"campaign of {len(NUMBERS)} calls done in {time.monotonic() - started:.1f} s")
    finally:
        await bridge.stop()

    on_msgs, off_msgs = hub.sent.get(on, []), hub.sent.get(off, [])
    assert any(m["type"] == "pop" and m["customer"]["name"] for m in on_msgs), on_msgs
    assert not any(m["type"] == "pop" for m in off_msgs), off_msgs
    assert any(m.get("pop") == "off" for m in off_msgs)

    report = (await rig.crm.experiments.report(exp.id)).json()
    arms = {v["variant"]: v for v in report["variants"]}
    print({k: (v["connects"], v["talk_seconds_mean"]["value"]) for k, v in arms.items()})
    assert arms["on"]["connects"] + arms["off"]["connects"] == len(NUMBERS)
    assert arms["on"]["connects"] >= 1 and arms["off"]["connects"] >= 1
    assert arms["on"]["units_assigned"] == 1 and arms["off"]["units_assigned"] == 1
    for arm in arms.values():
        assert arm["talk_seconds_mean"]["value"] > 3  # "Hello?", the sentence, 5 s more
        assert arm["conversion_rate"]["value"] == 1.0
    csv_text = (await rig.crm.experiments.report(exp.id)).csv()
    assert csv_text.count("\n") == 5  # header + 2 variants x (talk, conversion)
