"""A killed controller's hopper claims are released by the next process at once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.dialer.store import DialerStore
from tests.helpers.dialer_fakes import Clock, FakeControl, FakeCrm, lead, until


class ReleasingCrm(FakeCrm):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.released: list[tuple[list[str], str]] = []

    async def release(self, lead_ids: Sequence[str], worker: str) -> None:
        self.released.append((list(lead_ids), worker))


def _dialer(control: FakeControl, store: DialerStore, crm: FakeCrm) -> Dialer:
    dialer = Dialer(control, store, crm, crm, EventBus(), Clock(), worker="w1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    return dialer


async def test_given_claimed_leads_when_controller_killed_and_restarted_then_released(
    tmp_path: Path,
) -> None:
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = ReleasingCrm([lead(n) for n in range(5)])
    first = _dialer(control, store, crm)
    await first.on_connected(Reconnected(0))
    await first.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await first.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)  # the agent leg, one customer
    dialed = control.verbs("originate")[1][1]
    held = (await store.load_state("hopper"))["c1"]["lead_ids"]
    assert len(held) >= 2  # claimed ahead: the one dialed and at least one more
    for task in list(first._tasks):  # killed: no clean stop, nothing released
        task.cancel()
    assert crm.released == []

    second = _dialer(control, store, crm)
    await second.start()
    await second.on_connected(Reconnected(0))
    [(released, worker)] = crm.released
    call_lead = first.calls.calls[dialed].lead_id
    assert worker == "w1" and call_lead not in released
    assert sorted(released) == sorted(i for i in held if i != call_lead)
    assert dialed in second.calls.calls, "the live call keeps its lead"
    await second.on_connected(Reconnected(1))  # a later reconnection releases nothing more
    assert len(crm.released) == 1
    await second.stop()
    await store.close()
