"""Modes switched while a campaign runs: the next lead follows the new mode at once."""

from __future__ import annotations

from pathlib import Path

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.events import ScreenPop
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.dialer.store import DialerStore
from tests.helpers.dialer_fakes import (
    Clock,
    FakeControl,
    FakeCrm,
    customer_answers,
    lead,
    until,
)


async def test_given_running_campaign_when_modes_switched_live_then_each_mode_applies(
    tmp_path: Path,
) -> None:
    control = FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    crm = FakeCrm([lead(n) for n in range(6)])
    bus = EventBus()
    dialer = Dialer(control, store, crm, crm, bus, Clock(), worker="w1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    offers = bus.subscribe(lambda e: isinstance(e, ScreenPop) and e.state == "offered")

    # progressive: one call for the ready agent, dialed at once
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    first = control.verbs("originate")[1][1]

    # switched to preview mid-call: the call goes on; the next lead is offered, not dialed
    config = await dialer.set_mode("c1", "preview")
    assert config.mode is DialMode.PREVIEW
    assert (await store.load_state("campaign"))["c1"]["mode"] == "preview"  # survives restarts
    await customer_answers(control, first)
    await control.emit("ChannelDestroyed", first, cause=16)
    await dialer.dispose("a1", "not_interested")
    offer = await offers.get()
    assert isinstance(offer, ScreenPop) and offer.agent_id == "a1"
    assert len(control.verbs("originate")) == 2, "preview: nothing dialed before accept"

    # switched to predictive while an offer is pending: the offer is withdrawn, dialing paced
    await dialer.set_mode("c1", "predictive")
    assert "a1" not in dialer.runners["c1"].offers
    try:
        await until(lambda: len(control.verbs("originate")) >= 3)
    except TimeoutError:
        raise AssertionError(dialer.snapshot()) from None
    assert dialer.snapshot().campaigns[0].mode == "predictive"
    assert dialer.agents.sessions["a1"].state in (AgentState.READY, AgentState.RESERVED)
    await dialer.stop()
    await store.close()
