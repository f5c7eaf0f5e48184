"""Dispositions per campaign (issue 13 item 7): the CRM's table holds every campaign's codes and
a campaign's own, each with a category (success, contact, no contact, callback, DNC) and the
agent page's key; the dialer accepts a campaign's codes (not only its five built-in ones) and
acts on the category: a callback code needs a time, a DNC code lists the number."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ari_app.ari import EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.errors import InvalidRequest
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode
from ari_app.dialer.ports import DispositionCode
from ari_app.dialer.store import DialerStore
from crm.db.models_ops import Disposition
from crm.errors import AlreadyExistsError
from crm.service import CrmService
from crm.testing import CrmActor
from tests.helpers.dialer_fakes import Clock, FakeControl, FakeCrm, customer_answers, lead, until


class Codes:
    """The CRM's codes of campaign c1, as the dialer's port gives them."""

    def __init__(self, codes: Sequence[DispositionCode] = (), fail: bool = False) -> None:
        self.codes, self.fail, self.asked = list(codes), fail, []

    async def dispositions(self, campaign_id: str) -> Sequence[DispositionCode]:
        self.asked.append(campaign_id)
        if self.fail:
            raise ConnectionError("CRM down")
        return self.codes


@pytest.fixture
async def wrap_up(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A dialer with agent a1 in wrap-up after a call of campaign c1; ``make(codes)``."""
    made: list[Any] = []

    async def make(codes: Codes) -> tuple[Dialer, FakeCrm]:
        control = FakeControl()
        store = DialerStore(tmp_path / f"dialer{len(made)}.sqlite3")
        await store.open()
        crm = FakeCrm([lead(0)])
        dialer = Dialer(control, store, crm, crm, EventBus(), Clock(), worker="w1",
                        dispositions=codes)
        router = EventRouter()
        dialer.register(router)
        control.router = router
        await dialer.start()
        await dialer.on_connected(Reconnected(0))
        made.append((dialer, store))
        await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
        await dialer.login("a1", "1001", "c1")
        await until(lambda: len(control.verbs("originate")) == 2)
        call_id = control.verbs("originate")[1][1]
        await customer_answers(control, call_id)
        await control.emit("ChannelDestroyed", call_id, cause=16)
        assert dialer.agents.sessions["a1"].state is AgentState.WRAP_UP
        return dialer, crm

    yield make
    for dialer, store in made:
        await dialer.stop()
        await store.close()


async def test_given_campaign_code_when_agent_disposes_then_dialer_accepts_it(wrap_up) -> None:
    codes = Codes([DispositionCode("promise_to_pay", "success"),
                   DispositionCode("sale", "success")])
    dialer, crm = await wrap_up(codes)

    with pytest.raises(InvalidRequest, match="promise_to_pay, sale"):
        await dialer.dispose("a1", "not_interested")  # a built-in code c1 does not use
    await dialer.dispose("a1", "promise_to_pay")

    await until(lambda: bool(crm.attempts))
    assert crm.attempts[0]["disposition"] == "promise_to_pay"
    assert "c1" in codes.asked


async def test_given_custom_callback_code_when_no_time_then_refused_and_with_time_scheduled(
        wrap_up) -> None:
    dialer, crm = await wrap_up(Codes([DispositionCode("call_me_friday", "callback")]))

    with pytest.raises(InvalidRequest, match="callback_at"):
        await dialer.dispose("a1", "call_me_friday")
    when = datetime.now(UTC) + timedelta(days=3)
    await dialer.dispose("a1", "call_me_friday", callback_at=when)

    await until(lambda: bool(crm.attempts))
    assert crm.attempts[0]["callback_at"] == when.isoformat()


async def test_given_custom_dnc_code_when_disposed_then_number_on_dnc_list(wrap_up) -> None:
    dialer, crm = await wrap_up(Codes([DispositionCode("angry_never_again", "dnc")]))

    await dialer.dispose("a1", "angry_never_again")

    await until(lambda: bool(crm.dnc))
    assert crm.dnc == ["+8613800138000"]


async def test_given_crm_unreachable_when_disposing_then_built_in_codes(wrap_up) -> None:
    dialer, crm = await wrap_up(Codes(fail=True))

    await dialer.dispose("a1", "sale")

    await until(lambda: bool(crm.attempts))
    assert crm.attempts[0]["disposition"] == "sale"


async def test_given_table_when_campaign_codes_asked_then_every_campaigns_and_its_own_in_order(
        crm_service: CrmService, crm_actors: dict[str, CrmActor]) -> None:
    await crm_service.reference.seed_dispositions()
    mine = await crm_service.campaigns.create({"name": "催收"})
    other = await crm_service.campaigns.create({"name": "保险"})
    await crm_service.reference.add_disposition(Disposition(
        code="promise_to_pay", label_zh="承诺还款", label_en="Promise to pay", is_final=True,
        is_success=True, category="success", campaign_id=mine.id, shortcut="p", sort_order=5))

    codes = await crm_service.reference.dispositions(mine.id)
    others = await crm_service.reference.dispositions(other.id)

    assert [d.code for d in codes][:2] == ["promise_to_pay", "sale"]
    assert "promise_to_pay" not in {d.code for d in others}
    built_in = {d.code: (d.category, d.shortcut) for d in others}
    assert built_in == {"sale": ("success", "1"), "interested": ("contact", "2"),
                        "callback": ("callback", "3"), "not_interested": ("contact", "4"),
                        "wrong_number": ("no_contact", "5"), "do_not_call": ("dnc", "6")}
    with pytest.raises(AlreadyExistsError):  # "1" is sale's in every campaign
        await crm_service.reference.add_disposition(Disposition(
            code="paid", label_zh="已付", label_en="Paid", campaign_id=mine.id, shortcut="1"))


async def test_given_api_when_admin_adds_campaign_code_then_agents_get_it_for_that_campaign(
        crm_client: Any, crm_service: CrmService, crm_actors: dict[str, CrmActor]) -> None:
    await crm_service.reference.seed_dispositions()
    campaign = await crm_service.campaigns.create({"name": "催收"})
    admin, agent = crm_actors["admin"], crm_actors["agent"]

    made = await crm_client.post("/api/dispositions", headers=admin.headers, json={
        "code": "promise_to_pay", "label_zh": "承诺还款", "label_en": "Promise to pay",
        "category": "success", "campaign_id": str(campaign.id), "shortcut": "p",
        "sort_order": 5, "is_final": True, "is_success": True})
    assert made.status == 201
    listed = await (await crm_client.get(f"/api/dispositions?campaign_id={campaign.id}",
                                         headers=agent.headers)).json()
    assert listed["items"][0]["code"] == "promise_to_pay"
    assert listed["items"][0]["category"] == "success" and listed["items"][0]["shortcut"] == "p"
    general = await (await crm_client.get("/api/dispositions", headers=agent.headers)).json()
    assert "promise_to_pay" not in {d["code"] for d in general["items"]}

    bad = await crm_client.post("/api/dispositions", headers=admin.headers, json={
        "code": "x1", "label_zh": "x", "label_en": "x", "category": "maybe"})
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "category"
    bad_key = await crm_client.post("/api/dispositions", headers=admin.headers, json={
        "code": "x2", "label_zh": "x", "label_en": "x", "shortcut": "F1"})
    assert bad_key.status == 400 and (await bad_key.json())["details"]["field"] == "shortcut"
