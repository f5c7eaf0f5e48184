"""The dialer stamps the AMD verdict's hand-off and feeds pacing dial -> hand-off (issue 18 #5).

``answered_at`` keeps its meaning (the customer's channel answered, AMD starts); ``handed_at``
is when the verdict handed the live answer on. Times come from Asterisk's event timestamps.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.dialer.pacing import ModelPacing
from ari_app.dialer.store import DialerStore
from tests.helpers.dialer_fakes import FakeControl, FakeCrm, lead, until


class WallClock:
    def now(self) -> float:
        return time.time()


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Dialer, FakeControl]]:
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = FakeCrm([lead(0)])
    dialer = Dialer(control, store, crm, crm, EventBus(), WallClock(), worker="w1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    yield dialer, control
    await dialer.stop()
    await store.close()


async def test_given_amd_verdict_3s_after_answer_when_human_then_pacing_fed_dial_to_handoff(
    rig: tuple[Dialer, FakeControl],
) -> None:
    dialer, control = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    call = dialer.calls.calls[call_id]
    t0 = call.originated_at
    await control.emit("StasisStart", call_id, ["customer"], timestamp=stamp(t0 + 0.4))
    await control.emit("StasisStart", call_id, ["amd", "HUMAN", "x"],
                       timestamp=stamp(t0 + 3.4))

    assert call.answered_at == pytest.approx(t0 + 0.4, abs=0.002)  # kept: the channel answered
    assert call.handed_at == pytest.approx(t0 + 3.4, abs=0.002)
    pacing = dialer.runners["c1"].pacing
    assert isinstance(pacing, ModelPacing)
    pmf = pacing.policy.estimator.estimates().ring_pmf
    assert max(range(len(pmf)), key=pmf.__getitem__) == 3  # dial -> hand-off, not -> answer


async def test_given_no_amd_when_human_answers_then_handed_on_as_it_answered(
    rig: tuple[Dialer, FakeControl],
) -> None:
    dialer, control = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE, amd=False))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    call = dialer.calls.calls[call_id]
    await control.emit("StasisStart", call_id, ["customer"],
                       timestamp=stamp(call.originated_at + 2.0))
    assert call.handed_at == call.answered_at == pytest.approx(call.originated_at + 2.0,
                                                               abs=0.002)


async def test_given_machine_verdict_then_not_handed_on(rig: tuple[Dialer, FakeControl]) -> None:
    dialer, control = rig
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id = control.verbs("originate")[1][1]
    call = dialer.calls.calls[call_id]
    await control.emit("StasisStart", call_id, ["customer"])
    await control.emit("StasisStart", call_id, ["amd", "MACHINE", "x"])
    assert call.answered_at is not None and call.handed_at is None
