"""Component tests of the /api surface through aiohttp's test client."""

from __future__ import annotations

import json
import uuid

from crm.app import api_routes


async def _customer(client, actor, name="张三", phones=("13800138000",), **extra):
    resp = await client.post(
        "/api/customers",
        json={"name": name, "phones": list(phones), **extra},
        headers=actor.headers,
    )
    assert resp.status == 201, await resp.text()
    return (await resp.json())["customer"]


async def test_given_same_event_twice_when_posting_calls_then_created_then_duplicate(
    crm_client, crm_actors
):
    dialer = crm_actors["dialer"].headers
    event = {
        "event_id": "evt-1",
        "call_id": "c-1",
        "type": "originated",
        "number_dialed": "13800138000",
        "occurred_at": "2026-03-02T03:00:00Z",
    }
    first = await crm_client.post("/api/calls", json=event, headers=dialer)
    second = await crm_client.post("/api/calls", json=event, headers=dialer)
    assert (first.status, second.status) == (201, 200)
    assert (await second.json())["duplicate"] is True
    calls = await crm_client.get("/api/calls", headers=crm_actors["admin"].headers)
    assert (await calls.json())["total"] == 1


async def test_given_call_events_when_getting_customer_then_seed_contract(crm_client, crm_actors):
    c = await _customer(crm_client, crm_actors["agent"], tags=["VIP"])
    for i, kind in enumerate(("originated", "connected", "hungup")):
        resp = await crm_client.post(
            "/api/calls",
            headers=crm_actors["dialer"].headers,
            json={
                "event_id": f"e{i}",
                "call_id": "c-9",
                "type": kind,
                "customer_id": c["id"],
                "occurred_at": f"2026-03-02T03:0{i}:00Z",
                "intent_score": 0.7,
                "recording_url": "https://rec/x.wav",
            },
        )
        assert resp.status == 201
    resp = await crm_client.get(f"/api/customers/{c['id']}", headers=crm_actors["dialer"].headers)
    pop = await resp.json()
    assert pop["name"] == "张三" and pop["tags"] == ["VIP"]
    assert pop["recent_contacts"][0] == {
        "call_id": "c-9",
        "at": "2026-03-02T03:00:00+00:00",
        "state": "ended",
        "outcome": "answered",
        "disposition": None,
        "talk_seconds": 60.0,
        "intent_score": 0.7,
        "agent_id": None,
    }


async def test_given_bad_input_when_posting_then_400_naming_field(crm_client, crm_actors):
    h = crm_actors["admin"].headers
    cases = [
        ("/api/calls", {"call_id": "c", "type": "answered"}, "event_id"),
        (
            "/api/calls",
            {"event_id": "e", "call_id": "c", "type": "answered", "intent_score": 7},
            "intent_score",
        ),
        ("/api/customers", {"phones": ["13800138000"]}, "name"),
        ("/api/customers", {"name": "x", "phones": ["12"]}, "phones[0]"),
        ("/api/customers", {"name": "x", "nmae": "typo"}, "nmae"),
        ("/api/tasks", {"title": "t", "due_at": "tomorrow"}, "due_at"),
        ("/api/campaigns", {"name": "c", "window_start": "25:00"}, "window_start"),
        ("/api/users", {"username": "u", "role": "king"}, "role"),
    ]
    for path, body, field in cases:
        resp = await crm_client.post(path, json=body, headers=h)
        data = await resp.json()
        assert resp.status == 400, (path, body, data)
        assert data["details"]["field"] == field, (path, data)
        assert set(data) == {"error", "message", "details"}
    garbage = await crm_client.post(
        "/api/customers", data=b"{not json", headers={**h, "Content-Type": "application/json"}
    )
    assert garbage.status == 400 and (await garbage.json())["details"]["field"] == "body"
    bad_id = await crm_client.get("/api/customers/not-a-uuid", headers=h)
    assert bad_id.status == 400 and (await bad_id.json())["details"]["field"] == "customer_id"
    bad_page = await crm_client.get("/api/customers?limit=0", headers=h)
    assert (await bad_page.json())["details"]["field"] == "limit"


async def test_given_no_or_bad_credentials_when_calling_then_401(crm_client, crm_actors):
    assert (await crm_client.get("/api/customers")).status == 401
    bad = await crm_client.get("/api/customers", headers={"Authorization": "Bearer nope"})
    assert bad.status == 401 and (await bad.json())["error"] == "unauthenticated"
    basic = await crm_client.get("/api/customers", headers={"Authorization": "Basic eDp5"})
    assert basic.status == 401
    assert (await crm_client.get("/api/openapi.json")).status == 200


async def test_given_roles_when_calling_then_403_where_not_allowed(crm_client, crm_actors):
    agent, manager = crm_actors["agent"].headers, crm_actors["manager"].headers
    event = {"event_id": "x", "call_id": "c", "type": "originated"}
    assert (await crm_client.post("/api/calls", json=event, headers=agent)).status == 403
    assert (
        await crm_client.post(
            "/api/users", json={"username": "z", "role": "agent"}, headers=manager
        )
    ).status == 403
    assert (await crm_client.get("/api/campaigns", headers=agent)).status == 403
    other = crm_actors["agent2"].user_id
    resp = await crm_client.get(f"/api/tasks?owner_id={other}", headers=agent)
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    dialer = crm_actors["dialer"].headers
    assert (
        await crm_client.post("/api/customers", json={"name": "x"}, headers=dialer)
    ).status == 403


async def test_given_agents_tasks_when_listing_then_only_own(crm_client, crm_actors):
    agent, agent2 = crm_actors["agent"], crm_actors["agent2"]
    await crm_client.post("/api/tasks", json={"title": "mine"}, headers=agent.headers)
    await crm_client.post("/api/tasks", json={"title": "theirs"}, headers=agent2.headers)
    await crm_client.post(
        "/api/tasks",
        json={"title": "managers", "owner_id": str(agent2.user_id)},
        headers=crm_actors["manager"].headers,
    )
    mine = await (await crm_client.get("/api/tasks", headers=agent.headers)).json()
    assert [t["title"] for t in mine["items"]] == ["mine"]
    every = await (await crm_client.get("/api/tasks", headers=crm_actors["manager"].headers)).json()
    assert every["total"] == 3
    task_id = mine["items"][0]["id"]
    peek = await crm_client.get(f"/api/tasks/{task_id}", headers=agent2.headers)
    assert peek.status == 403
    done = await crm_client.patch(
        f"/api/tasks/{task_id}", json={"status": "done"}, headers=agent.headers
    )
    assert (await done.json())["status"] == "done"


async def test_given_managers_when_listing_campaigns_then_only_theirs(crm_client, crm_actors):
    manager = crm_actors["manager"]
    mine = await crm_client.post("/api/campaigns", json={"name": "mine"}, headers=manager.headers)
    assert mine.status == 201
    admin = crm_actors["admin"].headers
    other = await crm_client.post("/api/campaigns", json={"name": "other"}, headers=admin)
    other_id = (await other.json())["id"]
    listed = await (await crm_client.get("/api/campaigns", headers=manager.headers)).json()
    assert [c["name"] for c in listed["items"]] == ["mine"]
    assert (
        await crm_client.get(f"/api/campaigns/{other_id}", headers=manager.headers)
    ).status == 403
    assert (
        await crm_client.patch(
            f"/api/campaigns/{other_id}", json={"status": "paused"}, headers=manager.headers
        )
    ).status == 403


async def test_given_many_customers_when_paginating_then_pages_cover_all(crm_client, crm_actors):
    h = crm_actors["agent"].headers
    for i in range(7):
        await _customer(
            crm_client, crm_actors["agent"], name=f"客户{i}", phones=[f"1390000{i:04d}"]
        )
    seen = []
    for offset in (0, 3, 6):
        page = await (
            await crm_client.get(f"/api/customers?limit=3&offset={offset}", headers=h)
        ).json()
        assert page["total"] == 7 and page["limit"] == 3
        seen += [c["name"] for c in page["items"]]
    assert seen == [f"客户{i}" for i in range(7)]
    found = await (await crm_client.get("/api/customers?q=139%200000%200003", headers=h)).json()
    assert [c["name"] for c in found["items"]] == ["客户3"]


async def test_given_number_conflict_when_creating_then_409_or_merge(crm_client, crm_actors):
    h = crm_actors["agent"].headers
    c = await _customer(crm_client, crm_actors["agent"])
    body = {"name": "张三丰", "phones": ["+86 138 0013 8000", "010 65529988"]}
    clash = await crm_client.post("/api/customers", json=body, headers=h)
    data = await clash.json()
    assert clash.status == 409 and data["details"]["owners"] == {"+8613800138000": c["id"]}
    merged = await crm_client.post("/api/customers?on_conflict=merge", json=body, headers=h)
    assert merged.status == 200 and (await merged.json())["customer"]["id"] == c["id"]
    numbers = await (await crm_client.get(f"/api/customers/{c['id']}/numbers", headers=h)).json()
    assert {n["e164"] for n in numbers["items"]} == {"+8613800138000", "+861065529988"}


async def test_given_two_customers_when_merging_via_api_then_one_remains(crm_client, crm_actors):
    a = await _customer(crm_client, crm_actors["agent"], "A", ["13800000001"])
    b = await _customer(crm_client, crm_actors["agent"], "B", ["13800000002"])
    await crm_client.post(
        f"/api/customers/{b['id']}/notes",
        json={"body": "hello"},
        headers=crm_actors["agent"].headers,
    )
    forbidden = await crm_client.post(
        f"/api/customers/{a['id']}/merge",
        json={"source_ids": [b["id"]]},
        headers=crm_actors["agent"].headers,
    )
    assert forbidden.status == 403
    resp = await crm_client.post(
        f"/api/customers/{a['id']}/merge",
        json={"source_ids": [b["id"]]},
        headers=crm_actors["manager"].headers,
    )
    assert resp.status == 200
    notes = await (
        await crm_client.get(f"/api/customers/{a['id']}/notes", headers=crm_actors["agent"].headers)
    ).json()
    assert [n["body"] for n in notes["items"]] == ["hello"]
    listed = await (
        await crm_client.get("/api/customers", headers=crm_actors["agent"].headers)
    ).json()
    assert [c["name"] for c in listed["items"]] == ["A"]


async def test_given_login_when_using_cookie_then_session_until_logout(crm_client, crm_actors):
    wrong = await crm_client.post("/api/auth/login", json={"username": "agent", "password": "nope"})
    assert wrong.status == 401
    ok = await crm_client.post(
        "/api/auth/login", json={"username": "agent", "password": "password-1"}
    )
    assert ok.status == 200 and "HttpOnly" in ok.headers["Set-Cookie"]
    me = await crm_client.get("/api/auth/me")
    assert (await me.json())["username"] == "agent"
    cross = await crm_client.post(
        "/api/tasks", json={"title": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status == 403
    assert (await crm_client.post("/api/auth/logout")).status == 204
    assert (await crm_client.get("/api/auth/me")).status == 401


async def test_given_route_table_when_serving_openapi_then_paths_match_router(crm_client):
    doc = await (await crm_client.get("/api/openapi.json")).json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {
        (r.method, r.resource.canonical)
        for r in crm_client.app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    assert documented == served == {(r.method, r.path) for r in api_routes()}
    assert doc["openapi"].startswith("3.")
    body = doc["paths"]["/api/customers"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "phones" in doc["components"]["schemas"][ref]["properties"]


async def test_given_unknown_route_when_called_then_json_404(crm_client, crm_actors):
    resp = await crm_client.get("/api/nope", headers=crm_actors["admin"].headers)
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    missing = await crm_client.get(
        f"/api/customers/{uuid.uuid4()}", headers=crm_actors["admin"].headers
    )
    assert missing.status == 404 and json.loads(await missing.text())["details"]["entity"]


async def test_given_call_closed_by_reconcile_when_getting_call_then_record_says_reconciled(
    crm_client, crm_actors
):
    """Issue 17 finding 18: a call closed at a restart says so, and whose end time it has."""
    dialer = crm_actors["dialer"].headers
    events = [
        {"event_id": "r0", "call_id": "c-rec", "type": "bridged",
         "occurred_at": "2026-03-02T03:00:00Z"},
        {"event_id": "r1", "call_id": "c-rec", "type": "ended", "talk_seconds": 29.4,
         "occurred_at": "2026-03-02T03:00:29.4Z", "closed_by": "reconcile",
         "end_source": "asterisk"},
    ]
    for event in events:
        assert (await crm_client.post("/api/calls", json=event, headers=dialer)).status == 201
    resp = await crm_client.get("/api/calls/c-rec", headers=crm_actors["admin"].headers)
    call = await resp.json()
    assert call["closed_by"] == "reconcile" and call["talk_seconds"] == 29.4
    assert call["ended_at"].startswith("2026-03-02T03:00:29.4")
    [ended] = [e for e in call["events"] if e["type"] == "ended"]
    assert ended["payload"]["end_source"] == "asterisk"
