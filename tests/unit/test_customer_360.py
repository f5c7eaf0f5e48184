"""The customer 360's API (issue 13 item 1): search by name, any part of a number, tag and
owner; ``GET /api/customers/{id}/activity``; ``POST /api/customers/{id}/merge/preview``; bad
input is a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from crm.domain.enums import Role
from tests.helpers.customer_world import customer_world as _world

pytestmark = pytest.mark.asyncio


async def _json(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _search(client: Any, actor: Any, query: str) -> list[str]:
    body = await _json(await client.get(f"/api/customers?{query}", headers=actor.headers))
    return [c["name"] for c in body["items"]]


async def test_given_customers_when_searching_then_by_name_any_part_of_a_number_tag_owner(
        crm_client: Any, crm_service: Any, crm_actors: dict[str, Any]) -> None:
    await _world(crm_client, crm_service, crm_actors)
    admin = crm_actors["admin"]
    assert await _search(crm_client, admin, "q=三丰") == ["张三丰"]
    assert await _search(crm_client, admin, "q=smi") == ["John Smith"]
    assert await _search(crm_client, admin, "q=0013") == ["张三丰"]  # a part of +8613800138000
    assert await _search(crm_client, admin, "q=6234%205678") == ["John Smith"]
    assert await _search(crm_client, admin, "q=010-6234") == ["John Smith"]  # national 0 too
    assert await _search(crm_client, admin, "q=%2B86138") == ["张三丰"]
    assert await _search(crm_client, admin, "tag=vip") == ["张三丰"]
    assert await _search(crm_client, admin, "owner=agent") == ["张三丰"]
    assert await _search(crm_client, admin, "owner=nobody") == []
    body = await _json(await crm_client.get("/api/customers?q=0013", headers=admin.headers))
    assert body["items"][0]["numbers"] == ["+8613800138000"]


async def test_given_a_call_when_reading_activity_then_numbers_calls_leads_for_its_agent(
        crm_client: Any, crm_service: Any, crm_actors: dict[str, Any]) -> None:
    world = await _world(crm_client, crm_service, crm_actors)
    url = f"/api/customers/{world['customer_id']}/activity?language=zh"
    body = await _json(await crm_client.get(url, headers=crm_actors["agent"].headers))
    assert body["name"] == "张三丰" and body["tags"] == ["VIP"]
    [number] = body["numbers"]
    assert number["type"] == "mobile" and number["region"] and number["dnc"]["global"] is True
    [call] = body["calls"]
    assert call["campaign"] == "春季 Spring" and call["agent"] == "agent"
    assert call["talk_seconds"] == 240 and call["recording"]["id"]
    assert call["analysis"]["sentiment_label"] and call["analysis"]["intent_score"] > 0
    assert {r["rule_id"] for r in call["rules"]} >= {"high-intent"}
    [lead] = body["leads"]
    assert lead["campaign"] == "春季 Spring" and lead["agent"] == "agent"
    assert "next_attempt_at" in lead and body["merges"] == []
    en = await _json(await crm_client.get(url.replace("zh", "en"),
                                          headers=crm_actors["manager"].headers))
    assert en["numbers"][0]["region"] != number["region"]  # the place, in the viewer's language
    assert len(en["calls"]) == 1


async def test_given_another_agent_when_reading_activity_then_refused(
        crm_client: Any, crm_service: Any, crm_actors: dict[str, Any]) -> None:
    world = await _world(crm_client, crm_service, crm_actors)
    resp = await crm_client.get(f"/api/customers/{world['customer_id']}/activity",
                                headers=crm_actors["agent2"].headers)
    assert resp.status == 403


async def test_given_two_customers_when_previewing_then_merging_then_moves_shown_and_audited(
        crm_client: Any, crm_service: Any, crm_actors: dict[str, Any]) -> None:
    world = await _world(crm_client, crm_service, crm_actors)
    target, source = world["smith_id"], world["customer_id"]
    m = crm_actors["manager"].headers
    body = {"source_ids": [source]}
    preview = await _json(await crm_client.post(f"/api/customers/{target}/merge/preview",
                                                json=body, headers=m))
    [moves] = preview["sources"]
    assert moves["name"] == "张三丰" and moves["numbers"] == ["+8613800138000"]
    assert moves["moves"] == {"numbers": 1, "calls": 1, "tasks": moves["moves"]["tasks"],
                              "notes": 0, "leads": 1, "tags": 1}
    assert preview["total"]["calls"] == 1
    still = await _json(await crm_client.get(f"/api/customers/{source}/activity",
                                             headers=m))
    assert still["customer_id"] == source  # the preview changed nothing
    await _json(await crm_client.post(f"/api/customers/{target}/merge", json=body, headers=m))
    after = await _json(await crm_client.get(f"/api/customers/{target}/activity", headers=m))
    [merge] = after["merges"]
    assert merge["actor"] == "manager" and merge["sources"] == [{"id": source, "name": "张三丰"}]
    assert merge["moved"]["calls"] == 1 and len(after["calls"]) == 1


async def test_given_bad_input_when_previewing_or_reading_then_400_naming_the_field(
        crm_client: Any, crm_service: Any, crm_actors: dict[str, Any]) -> None:
    world = await _world(crm_client, crm_service, crm_actors)
    cid = world["customer_id"]
    m = crm_actors["manager"].headers
    cases = [
        ("POST", f"/api/customers/{cid}/merge/preview", {"source_ids": []}, "source_ids"),
        ("POST", f"/api/customers/{cid}/merge/preview", {"source_ids": ["x"]}, "source_ids.0"),
        ("POST", f"/api/customers/{cid}/merge/preview", {"source_ids": [cid]}, "source_ids[0]"),
        ("POST", f"/api/customers/{cid}/merge/preview", {"ids": [cid]}, "source_ids"),
        ("POST", "/api/customers/nope/merge/preview", {"source_ids": [cid]}, "customer_id"),
        ("GET", f"/api/customers/{cid}/activity?language=fr", None, "language"),
        ("GET", "/api/customers/nope/activity", None, "customer_id"),
        ("GET", "/api/customers?owner=" + "x" * 65, None, "owner"),
    ]
    for method, url, body, field in cases:
        resp = await crm_client.request(method, url, json=body, headers=m)
        found = await _json(resp, 400)
        assert found["details"]["field"] == field, (url, found)


async def test_given_another_manager_when_searching_then_only_shared_customers_listed(
        crm_client: Any, crm_service: Any, crm_actors: dict[str, Any]) -> None:
    """The access policy in the list too: a manager lists the customers of their campaigns and
    the shared ones (no managed campaign), not another manager's."""
    await _world(crm_client, crm_service, crm_actors)
    await crm_client.post("/api/customers", headers=crm_actors["admin"].headers,
                          json={"name": "Walk-in", "phones": ["15912345678"]})
    other = await crm_service.auth.create_user("manager2", Role.MANAGER, password="password-1")
    token = (await crm_service.auth.issue_token(other.id)).token
    seen = await _json(await crm_client.get("/api/customers",
                                            headers={"Authorization": f"Bearer {token}"}))
    assert [c["name"] for c in seen["items"]] == ["Walk-in"]
    own = await _search(crm_client, crm_actors["manager"], "limit=50")
    assert sorted(own) == sorted(["John Smith", "Walk-in", "张三丰"])
