"""``/ws/wallboard`` through aiohttp's test client, on a dialer built with fakes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from ari_app.dialer.events import AgentStateChanged
from ari_app.dialer.model import AgentState, CampaignConfig
from crm.db.models_ops import User
from crm.domain.enums import Role
from crm.service import CrmService
from tests.helpers.web_apps import PASSWORD, Rig, bearer, fake_app, high_intent_call
from web.wallboard.board import WALLBOARD_HUB, Wallboard


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, TestClient]]:
    async with fake_app(tmp_path) as rig, TestClient(TestServer(rig.app)) as client:
        yield rig, client


async def next_board(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    async with asyncio.timeout(3):
        while True:
            msg = json.loads((await ws.receive()).data)
            if msg["type"] == "wallboard":
                return msg


def agent_changed(agent_id: str, campaign_id: str, state: AgentState) -> AgentStateChanged:
    return AgentStateChanged(agent_id, campaign_id, AgentState.READY, state, 0.0)


async def test_given_manager_when_connecting_then_snapshot_then_update_after_agent_change(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    await board.dialer.login("agent1", "1001", board.campaign_id)
    async with client.ws_connect("/ws/wallboard", headers=bearer(board, "boss")) as ws:
        first = await next_board(ws)
        assert first["agent_counts"]["ready"] == 1 and first["target"] == 0.03
        assert [a["agent_id"] for a in first["agents"]] == ["agent1"]

        await board.dialer.pause("agent1", "lunch")  # the desk publishes AgentStateChanged
        update = await next_board(ws)
        assert update["agent_counts"]["paused"] == 1 and update["agent_counts"]["ready"] == 0
        assert update["agents"][0]["pause_code"] == "lunch"


async def test_given_burst_of_events_when_published_then_pushes_are_debounced(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    async with client.ws_connect("/ws/wallboard", headers=bearer(board, "root")) as ws:
        await next_board(ws)
        for _ in range(50):
            board.bus.publish(agent_changed("a9", board.campaign_id, AgentState.PAUSED))
        await next_board(ws)
        with pytest.raises(TimeoutError):  # the burst became one or two pushes, not fifty
            async with asyncio.timeout(0.3):
                for _ in range(2):
                    await next_board(ws)


@pytest.mark.parametrize(("who", "status"), [("agent1", 403), (None, 401)])
async def test_given_not_a_manager_when_connecting_then_refused(
    rig: tuple[Rig, TestClient], who: str | None, status: int,
) -> None:
    board, client = rig
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/wallboard", headers=bearer(board, who) if who else {})
    assert refused.value.status == status


async def test_given_manager_when_page_requested_then_rendered_and_agent_refused(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    page = await client.get("/wallboard?lang=en", headers=bearer(board, "boss"))
    assert page.status == 200 and "Live wallboard" in await page.text()
    refused = await client.get("/wallboard", headers=bearer(board, "agent1"))
    assert refused.status == 403 and (await refused.json())["error"]
    anonymous = await client.get("/wallboard", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login")


async def test_given_running_campaign_when_sampled_then_history_is_a_bounded_ring(
    rig: tuple[Rig, TestClient],
) -> None:
    board, _ = rig
    board.dialer.run_campaign(CampaignConfig(board.campaign_id, name="c"))
    now = [1000.0]
    wallboard = Wallboard(board.dialer, history=3, sample_s=10, clock=lambda: now[0])
    for step in range(10):
        now[0] = 1000.0 + step * 5
        wallboard.sample()
    message = wallboard.message()
    assert [s["t"] for s in message["history"]] == [1020.0, 1030.0, 1040.0]
    assert board.campaign_id in message["history"][-1]["campaigns"]
    assert message["campaigns"][0]["hopper"] == 0


async def _user_id(crm: CrmService, username: str) -> Any:
    async with crm.engine.connect() as conn:
        return await conn.scalar(sa.select(User.id).where(User.username == username))


async def board_until(ws: aiohttp.ClientWebSocketResponse,
                      check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while not check(msg := await next_board(ws)):
            pass
        return msg


async def test_given_open_board_when_rule_makes_todo_and_task_closed_then_pushed_both_times(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    campaign = await board.crm.campaigns.create(
        {"name": "managed", "manager_id": await _user_id(board.crm, "boss")})
    async with client.ws_connect("/ws/wallboard", headers=bearer(board, "boss")) as ws:
        first = await next_board(ws)
        assert first["todo"] == {"items": [], "total": 0}

        await high_intent_call(board.crm, "call-todo", str(campaign.id), "赵六")
        pushed = await board_until(ws, lambda m: m["todo"]["total"] == 1)
        item = pushed["todo"]["items"][0]
        assert item["customer"] == "赵六" and item["owner"] == "boss"
        assert item["rule_id"] == "high-intent" and item["call_id"] == "call-todo"
        assert item["title"]["zh"] == "高意向客户，请分配资深坐席"
        assert item["title"]["en"] == "High-intent lead: assign a senior agent"
        assert item["evidence"] and item["evidence"][0].startswith("intent")

        closed = await client.patch(f"/api/tasks/{item['id']}", json={"status": "done"},
                                    headers=bearer(board, "boss"))
        assert closed.status == 200, await closed.text()
        emptied = await board_until(ws, lambda m: m["todo"]["total"] == 0)
        assert emptied["todo"]["items"] == []


async def test_given_unowned_todo_when_page_rendered_then_in_boot_board(
    rig: tuple[Rig, TestClient],
) -> None:
    board, client = rig
    await high_intent_call(board.crm, "call-orphan", None, "钱七")
    for _ in range(200):  # the loader runs on the signal, not on the page request
        if board.app[WALLBOARD_HUB].board.todo["total"]:
            break
        await asyncio.sleep(0.05)
    page = await client.get("/wallboard?lang=en", headers=bearer(board, "boss"))
    text = await page.text()
    assert page.status == 200 and "Supervisor to-do" in text
    boot = json.loads(text.split('<script id="boot" type="application/json">')[1].split(
        "</script>")[0])
    [item] = boot["board"]["todo"]["items"]
    assert item["customer"] == "钱七" and item["owner"] is None  # no campaign: unowned
    assert boot["strings"]["todo_unowned"] == "unassigned"


async def test_given_two_managers_and_admin_when_todo_created_then_each_sees_only_theirs(
    rig: tuple[Rig, TestClient],
) -> None:
    """As /api/supervisor/todo: a manager sees their own and the unowned items, an admin all."""
    board, client = rig
    other = await board.crm.auth.create_user("boss2", Role.MANAGER, password=PASSWORD)
    board.tokens["boss2"] = (await board.crm.auth.issue_token(other.id)).token
    campaign = await board.crm.campaigns.create(
        {"name": "managed", "manager_id": await _user_id(board.crm, "boss")})
    async with client.ws_connect("/ws/wallboard", headers=bearer(board, "boss")) as mine, \
            client.ws_connect("/ws/wallboard", headers=bearer(board, "boss2")) as theirs, \
            client.ws_connect("/ws/wallboard", headers=bearer(board, "root")) as admin:
        for ws in (mine, theirs, admin):
            await next_board(ws)
        await high_intent_call(board.crm, "call-owned", str(campaign.id), "赵六")
        await board_until(mine, lambda m: m["todo"]["total"] == 1)
        await board_until(admin, lambda m: m["todo"]["total"] == 1)
        await high_intent_call(board.crm, "call-orphan", None, "钱七",  # no campaign: unowned
                               phone="13800138002")
        seen = await board_until(theirs, lambda m: m["todo"]["total"] >= 1)
        assert [i["customer"] for i in seen["todo"]["items"]] == ["钱七"]
        assert seen["todo"]["total"] == 1  # never boss's own item
        both = await board_until(admin, lambda m: m["todo"]["total"] == 2)
        assert sorted(i["customer"] for i in both["todo"]["items"]) == ["赵六", "钱七"]
        mine_now = await board_until(mine, lambda m: m["todo"]["total"] == 2)
        assert {i["owner"] for i in mine_now["todo"]["items"]} == {"boss", None}
    page = await client.get("/wallboard?lang=en", headers=bearer(board, "boss2"))
    boot = json.loads((await page.text()).split('<script id="boot" type="application/json">')[1]
                      .split("</script>")[0])
    assert [i["customer"] for i in boot["board"]["todo"]["items"]] == ["钱七"]


async def test_given_app_stopped_when_tasks_change_then_wallboard_no_longer_listening(
    tmp_path: Path,
) -> None:
    async with fake_app(tmp_path) as board:
        async with TestClient(TestServer(board.app)):
            assert len(board.crm.work.task_listeners) == 1
            assert len(board.crm.live.task_listeners) == 1
        assert board.crm.work.task_listeners == [] and board.crm.live.task_listeners == []


def test_given_agent_state_changes_when_board_built_then_occupancy_answer_rate_and_ratio() -> None:
    """Occupancy = (on call + wrap-up) / logged-in time, from the agents' state changes."""
    from ari_app.dialer.events import AgentStateChanged
    from ari_app.dialer.model import AgentState as S
    from ari_app.dialer.model import DialMode
    from ari_app.dialer.snapshot import CampaignSnapshot
    from web.wallboard.board import Wallboard

    board = Wallboard()
    for prev, state, at in ((S.LOGGED_OUT, S.READY, 0.0), (S.READY, S.ON_CALL, 30.0),
                            (S.ON_CALL, S.WRAP_UP, 90.0), (S.WRAP_UP, S.READY, 100.0)):
        board.note(AgentStateChanged("a1", "c1", prev, state, at))
    assert board.occupancy("c1", now=100.0) == 0.7  # 70 s busy of 100 s logged in
    assert board.occupancy("c1", now=140.0) == 0.5  # ready since 100 s: 70 of 140
    assert board.occupancy("other", now=140.0) is None
    status = CampaignSnapshot("c1", "", DialMode.PREDICTIVE, running=True, alarm=None,
                              pacing="model", pacing_reason="", hopper=0, dials=12,
                              live_answers=4, abandons=0, machines=0, connects=3,
                              abandon_rate=0.05, abandon_target=0.03)
    c = board._campaign(status, now=140.0)
    assert (c["answer_rate"], c["dials_per_connect"], c["over_target"]) == (0.3333, 4.0, True)
    assert c["occupancy"] == 0.5 and c["regulatory"] is None
