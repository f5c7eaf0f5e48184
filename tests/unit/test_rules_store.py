"""Workflow rules in the database: /api/rules CRUD, YAML import, validation errors naming the
field and line, defaults at start-up, and edits taking effect on the live path."""

from __future__ import annotations

import pytest

from crm.cli import main as cli_main

QUOTE_RULE = {
    "id": "quote-on-discount",
    "name": "Discount asked -> quote",
    "trigger": "in_call",
    "when": {"keyword": ["discount"]},
    "actions": [{"create_task": {"title": {"en": "Send the discount quote", "zh": "发送折扣报价"},
                                 "due_in": "2h", "priority": "high", "kind": "quote"}}],
}


async def test_given_app_started_when_listing_rules_then_defaults_loaded(crm_client, crm_actors):
    resp = await crm_client.get("/api/rules", headers=crm_actors["manager"].headers)
    body = await resp.json()
    ids = {r["id"] for r in body["items"]}
    assert resp.status == 200 and {"quote-on-price", "high-intent", "script-vip"} <= ids
    in_call = await crm_client.get("/api/rules?trigger=in_call",
                                   headers=crm_actors["manager"].headers)
    assert {r["trigger"] for r in (await in_call.json())["items"]} == {"in_call"}


async def test_given_agent_when_touching_rules_then_403(crm_client, crm_actors):
    h = crm_actors["agent"].headers
    assert (await crm_client.get("/api/rules", headers=h)).status == 403
    assert (await crm_client.post("/api/rules", json=QUOTE_RULE, headers=h)).status == 403


async def test_given_new_rule_when_crud_then_stored_updated_deleted_and_audited(
    crm_client, crm_actors, crm_service
):
    h = crm_actors["manager"].headers
    created = await crm_client.post("/api/rules", json=QUOTE_RULE, headers=h)
    assert created.status == 201, await created.text()
    dup = await crm_client.post("/api/rules", json=QUOTE_RULE, headers=h)
    assert dup.status == 409
    changed = {**QUOTE_RULE, "enabled": False}
    del changed["id"]
    put = await crm_client.put("/api/rules/quote-on-discount", json=changed, headers=h)
    assert put.status == 200 and (await put.json())["enabled"] is False
    got = await crm_client.get("/api/rules/quote-on-discount", headers=h)
    assert (await got.json())["definition"]["enabled"] is False
    assert (await crm_client.delete("/api/rules/quote-on-discount", headers=h)).status == 204
    assert (await crm_client.get("/api/rules/quote-on-discount", headers=h)).status == 404
    import sqlalchemy as sa

    from crm.db.models_ops import AuditLog

    async with crm_service.engine.connect() as conn:
        actions = list(await conn.scalars(sa.select(AuditLog.action).where(
            AuditLog.entity_id == "quote-on-discount").order_by(AuditLog.id)))
    assert actions == ["rule.created", "rule.updated", "rule.deleted"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trigger": "during_call"}, "trigger"),
        ({"when": {"keyword": ["lottery"]}}, "when.keyword"),
        ({"when": {"sentiment": {"below": 5}}}, "when.sentiment.below"),
        ({"actions": [{"create_task": {"title": "x"}}]}, "actions[0].create_task"),
        ({"actions": [{"nurture": {"program": "p"}}]}, "actions[0]"),
        ({"actions": [{"create_task": {"title": "x", "due_in": "soon"}}]},
         "actions[0].create_task.due_in"),
        ({"id": "Bad Id"}, "id"),
    ],
)
async def test_given_bad_rule_when_posting_then_400_naming_field(
    crm_client, crm_actors, change, field
):
    resp = await crm_client.post("/api/rules", json={**QUOTE_RULE, **change},
                                 headers=crm_actors["manager"].headers)
    body = await resp.json()
    assert resp.status == 400, body
    assert body["details"]["field"] == field, body
    listed = await crm_client.get("/api/rules", headers=crm_actors["manager"].headers)
    assert "quote-on-discount" not in {r["id"] for r in (await listed.json())["items"]}


async def test_given_yaml_with_bad_field_when_importing_then_400_with_line(
    crm_client, crm_actors
):
    text = """version: 1
rules:
  - id: ok-rule
    trigger: in_call
    when: {keyword: [price]}
    actions:
      - create_task: {title: Quote, due_in: 24h}
  - id: broken
    trigger: post_call
    when: {intent: {min: 12}}
    actions:
      - set_priority: {priority: high}
"""
    h = {**crm_actors["manager"].headers, "Content-Type": "application/yaml"}
    resp = await crm_client.post("/api/rules/import", data=text.encode(), headers=h)
    body = await resp.json()
    assert resp.status == 400 and body["details"]["field"] == "rules[1].when.intent.min"
    assert body["details"]["line"] == 8 and "line 8" in body["message"]
    bad_yaml = await crm_client.post("/api/rules/import", data=b"rules: [ {id: x", headers=h)
    body = await bad_yaml.json()
    assert bad_yaml.status == 400 and body["details"]["field"] == "body"
    assert "line" in body["details"] and "YAML" in body["message"]
    listed = await crm_client.get("/api/rules", headers=h)
    assert "ok-rule" not in {r["id"] for r in (await listed.json())["items"]}  # all or nothing


async def test_given_yaml_replace_when_importing_then_only_document_rules_left(
    crm_client, crm_actors
):
    text = "rules:\n  - id: only\n    trigger: pre_call\n    actions:\n" \
           "      - recommend_script: {script: standard_opener}\n"
    h = {**crm_actors["admin"].headers, "Content-Type": "text/yaml"}
    resp = await crm_client.post("/api/rules/import?replace=true", data=text.encode(), headers=h)
    assert resp.status == 200 and (await resp.json())["imported"] == ["only"]
    listed = await crm_client.get("/api/rules", headers=h)
    assert [r["id"] for r in (await listed.json())["items"]] == ["only"]


async def test_given_rule_disabled_when_price_said_then_no_task(crm_client, crm_actors,
                                                                 crm_service):
    h = crm_actors["admin"].headers  # a packaged default rule: admin-owned
    got = await (await crm_client.get("/api/rules/quote-on-price", headers=h)).json()
    off = {**got["definition"], "enabled": False}
    assert (await crm_client.put("/api/rules/quote-on-price", json=off, headers=h)).status == 200
    dialer = crm_actors["dialer"].headers
    await crm_client.post("/api/calls", headers=dialer, json={
        "event_id": "e1", "call_id": "c-off", "type": "bridged", "agent_id": "agent"})
    resp = await crm_client.post("/api/calls/c-off/transcript", headers=dialer, json={
        "segment_id": "1", "speaker": "customer", "start_s": 1, "end_s": 2,
        "text": "what is the price?"})
    assert resp.status == 201 and (await resp.json())["firings"] == []
    on = {**got["definition"], "enabled": True}
    await crm_client.put("/api/rules/quote-on-price", json=on, headers=h)
    resp = await crm_client.post("/api/calls/c-off/transcript", headers=dialer, json={
        "segment_id": "2", "speaker": "customer", "start_s": 3, "end_s": 4,
        "text": "so what is the price?"})
    firings = (await resp.json())["firings"]
    assert [f["rule_id"] for f in firings] == ["quote-on-price"]
    audit = await crm_client.get("/api/rule-firings?call_id=c-off", headers=h)
    items = (await audit.json())["items"]
    assert [i["rule_id"] for i in items] == ["quote-on-price"]
    assert items[0]["evidence"] and items[0]["task_id"]


async def test_given_yaml_file_when_cli_load_rules_then_stored(
    crm_settings, crm_service, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: cli-rule\n    trigger: pre_call\n    actions:\n"
                    "      - recommend_script: {script: cli_script}\n", encoding="utf-8")
    monkeypatch.setenv("DIALCRM_DATABASE_URL", crm_settings.database_url)
    monkeypatch.setenv("DIALCRM_AUTO_MIGRATE", "false")
    assert await _run_cli(["load-rules", str(path)]) == 0
    assert "cli-rule" in capsys.readouterr().out
    assert (await crm_service.rules.get("cli-rule")).trigger == "pre_call"
    path.write_text("rules:\n  - id: cli-rule\n    trigger: pre_call\n", encoding="utf-8")
    assert await _run_cli(["load-rules", str(path)]) == 1
    assert "actions" in capsys.readouterr().err


async def _run_cli(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(cli_main, argv)


async def _second_manager(crm_service) -> dict[str, str]:
    from crm.domain.enums import Role

    user = await crm_service.auth.create_user("manager2", Role.MANAGER, password="password-1")
    token = (await crm_service.auth.issue_token(user.id)).token
    return {"Authorization": f"Bearer {token}"}


async def test_given_managers_rule_when_another_manager_puts_or_deletes_then_403_permission(
    crm_client, crm_actors, crm_service
):
    """Issue 17 finding 5: a manager deleted another manager's rules."""
    owner, other = crm_actors["manager"].headers, await _second_manager(crm_service)
    assert (await crm_client.post("/api/rules", json=QUOTE_RULE, headers=owner)).status == 201
    url = "/api/rules/quote-on-discount"
    off = {**QUOTE_RULE, "enabled": False}
    put = await crm_client.put(url, json=off, headers=other)
    assert put.status == 403 and (await put.json())["details"]["entity"] == "rule"
    assert (await crm_client.delete(url, headers=other)).status == 403
    assert (await (await crm_client.get(url, headers=owner)).json())["enabled"] is True
    got = await (await crm_client.get(url, headers=owner)).json()
    assert got["owner_id"] == str(crm_actors["manager"].user_id)
    admin = crm_actors["admin"].headers
    assert (await crm_client.put(url, json=off, headers=admin)).status == 200
    assert (await (await crm_client.get(url, headers=owner)).json())["owner_id"] == str(
        crm_actors["manager"].user_id)  # an admin's edit keeps the owner
    assert (await crm_client.put(url, json=QUOTE_RULE, headers=owner)).status == 200
    assert (await crm_client.delete(url, headers=owner)).status == 204


async def test_given_default_rule_when_manager_changes_it_then_403_admin_may(
    crm_client, crm_actors
):
    """The packaged defaults have no owner: admin-owned."""
    m, admin = crm_actors["manager"].headers, crm_actors["admin"].headers
    got = await (await crm_client.get("/api/rules/quote-on-price", headers=m)).json()
    assert got["owner_id"] is None
    off = {**got["definition"], "enabled": False}
    assert (await crm_client.put("/api/rules/quote-on-price", json=off, headers=m)).status == 403
    assert (await crm_client.delete("/api/rules/quote-on-price", headers=m)).status == 403
    assert (await crm_client.put("/api/rules/quote-on-price", json=off,
                                 headers=admin)).status == 200


async def test_given_others_rule_in_yaml_when_manager_imports_then_403_and_nothing_changed(
    crm_client, crm_actors, crm_service
):
    owner, other = crm_actors["manager"].headers, await _second_manager(crm_service)
    assert (await crm_client.post("/api/rules", json=QUOTE_RULE, headers=owner)).status == 201
    text = ("rules:\n  - id: mine\n    trigger: pre_call\n    actions:\n"
            "      - recommend_script: {script: standard_opener}\n"
            "  - id: quote-on-discount\n    trigger: pre_call\n    enabled: false\n"
            "    actions:\n      - recommend_script: {script: standard_opener}\n")
    h = {**other, "Content-Type": "application/yaml"}
    resp = await crm_client.post("/api/rules/import", data=text.encode(), headers=h)
    assert resp.status == 403
    listed = {r["id"]: r for r in (await (await crm_client.get(
        "/api/rules", headers=owner)).json())["items"]}
    assert "mine" not in listed and listed["quote-on-discount"]["trigger"] == "in_call"


async def test_given_replace_import_by_manager_when_importing_then_only_their_rules_dropped(
    crm_client, crm_actors, crm_service
):
    owner, other = crm_actors["manager"].headers, await _second_manager(crm_service)
    assert (await crm_client.post("/api/rules", json=QUOTE_RULE, headers=owner)).status == 201
    first = {**QUOTE_RULE, "id": "other-old"}
    assert (await crm_client.post("/api/rules", json=first, headers=other)).status == 201
    text = ("rules:\n  - id: other-new\n    trigger: pre_call\n    actions:\n"
            "      - recommend_script: {script: standard_opener}\n")
    h = {**other, "Content-Type": "application/yaml"}
    resp = await crm_client.post("/api/rules/import?replace=true", data=text.encode(), headers=h)
    assert resp.status == 200, await resp.text()
    ids = {r["id"] for r in (await (await crm_client.get(
        "/api/rules", headers=owner)).json())["items"]}
    assert "other-old" not in ids and {"other-new", "quote-on-discount", "quote-on-price"} <= ids
