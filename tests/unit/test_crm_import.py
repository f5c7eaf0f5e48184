"""Lead import (CSV / JSON / NDJSON) through the API: mapping, E.164, de-dup, per-row report."""

from __future__ import annotations

import json

from crm.db.models import Customer
from crm.db.models_ops import Lead


async def _campaign(client, actors) -> str:
    resp = await client.post(
        "/api/campaigns", json={"name": "春季活动"}, headers=actors["manager"].headers
    )
    return (await resp.json())["id"]


async def _import(client, actor, campaign_id, body: bytes, query: str = "", ctype="text/csv"):
    resp = await client.post(
        f"/api/campaigns/{campaign_id}/leads/import{query}",
        data=body,
        headers={**actor.headers, "Content-Type": ctype},
    )
    return resp.status, json.loads(await resp.text())


async def test_given_messy_csv_when_importing_then_per_row_report(crm_client, crm_actors):
    h = crm_actors["agent"].headers
    existing = await crm_client.post(
        "/api/customers", json={"name": "老客户", "phones": ["13900139000"]}, headers=h
    )
    existing_id = (await existing.json())["customer"]["id"]
    cid = await _campaign(crm_client, crm_actors)
    csv_text = (
        "姓名,手机号,标签,优先级\n"
        "张三,138 0013 8000,VIP;回访,5\n"  # 1 created
        "李四,12345,,\n"  # 2 malformed number
        "张三(重复),+86 13800138000,,\n"  # 3 duplicate in file
        "王五,13900139000,,\n"  # 4 DB duplicate → merged
        "赵六,,,\n"  # 5 missing phone
        '"钱七, Jr.",010-65529988,,x\n'
    )  # 6 bad priority
    status, report = await _import(
        crm_client, crm_actors["manager"], cid, csv_text.encode("utf-8-sig")
    )
    assert status == 200, report
    rows = {r["row"]: r for r in report["rows"]}
    assert [rows[i]["status"] for i in range(1, 7)] == [
        "created",
        "rejected",
        "rejected",
        "merged",
        "rejected",
        "rejected",
    ]
    assert rows[2]["reason"] == "invalid_phone_number" and rows[2]["field"] == "phone"
    assert rows[3]["reason"] == "duplicate_in_file:row 1"
    assert rows[4]["customer_id"] == existing_id
    assert rows[5]["reason"] == "missing_phone"
    assert rows[6]["field"] == "priority"
    assert report["summary"] == {
        "rows": 6,
        "created": 1,
        "merged": 1,
        "rejected": 4,
        "reasons": {
            "invalid_phone_number": 1,
            "duplicate_in_file:row 1": 1,
            "missing_phone": 1,
            "invalid_input": 1,
        },
    }
    assert report["error"] is None
    # issue 17 finding 6: an agent no longer reads the customers of others' leads (was: agent)
    m = crm_actors["manager"].headers
    pop = await (await crm_client.get(f"/api/customers/{rows[1]['customer_id']}", headers=m)).json()
    assert pop["name"] == "张三" and sorted(pop["tags"]) == ["VIP", "回访"]
    again_status, again = await _import(
        crm_client, crm_actors["manager"], cid, csv_text.encode("utf-8")
    )
    assert again["rows"][0]["reason"] == "already_in_campaign"


async def test_given_json_and_ndjson_when_importing_then_mapping_applies(crm_client, crm_actors):
    cid = await _campaign(crm_client, crm_actors)
    body = json.dumps(
        [
            {"客户": "甲", "tel": "13800000001"},
            {"客户": "乙", "tel": "13800000002", "zone": "Asia/Urumqi"},
        ]
    ).encode()
    mapping = json.dumps({"name": "客户", "phone": "tel", "timezone": "zone"})
    status, report = await _import(
        crm_client,
        crm_actors["manager"],
        cid,
        body,
        f"?format=json&mapping={mapping}",
        "application/json",
    )
    assert status == 200 and report["summary"]["created"] == 2
    nd = b'{"phone": "13800000003"}\n{"phone": "13800000001"}\n'
    status, report = await _import(
        crm_client, crm_actors["manager"], cid, nd, "?format=ndjson", "application/x-ndjson"
    )
    assert [r["status"] for r in report["rows"]] == ["created", "rejected"]
    leads = await (
        await crm_client.get(
            f"/api/campaigns/{cid}/leads?limit=10", headers=crm_actors["manager"].headers
        )
    ).json()
    assert leads["total"] == 3
    assert {x["timezone"] for x in leads["items"]} == {None, "Asia/Urumqi"}


async def test_given_unusable_file_when_importing_then_400_and_nothing_written(
    crm_client, crm_actors, crm_service
):
    cid = await _campaign(crm_client, crm_actors)
    m = crm_actors["manager"]
    status, err = await _import(crm_client, m, cid, b"foo,bar\n1,2\n")
    assert status == 400 and err["details"]["field"] == "mapping"
    status, err = await _import(crm_client, m, cid, "姓名,手机\n张,138".encode("gbk"))
    assert status == 400 and err["details"]["field"] == "encoding"
    status, err = await _import(crm_client, m, cid, b"[{]", "?format=json", "application/json")
    assert status == 400 and err["details"]["field"] == "file"
    status, err = await _import(crm_client, m, cid, b"phone\n1\n", "?mapping=nope")
    assert status == 400 and err["details"]["field"] == "mapping"
    status, err = await _import(crm_client, crm_actors["agent"], cid, b"phone\n13800000001\n")
    assert status == 403
    async with crm_service.engine.connect() as conn:
        import sqlalchemy as sa

        assert await conn.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0
        assert await conn.scalar(sa.select(sa.func.count()).select_from(Customer)) == 0


async def test_given_gbk_csv_when_importing_with_encoding_then_ok(crm_client, crm_actors):
    cid = await _campaign(crm_client, crm_actors)
    body = "姓名;电话\n张三;13800000001\n".encode("gb18030")
    status, report = await _import(
        crm_client, crm_actors["manager"], cid, body, "?encoding=gb18030"
    )
    assert status == 200 and report["rows"][0]["status"] == "created"


async def test_given_more_rows_than_a_batch_when_importing_then_all_committed(
    crm_client, crm_actors, crm_service
):
    cid = await _campaign(crm_client, crm_actors)
    lines = ["name,phone"] + [f"客户{i},1380000{i:04d}" for i in range(230)]  # batch size 50
    lines.append("dup,13800000007")
    status, report = await _import(
        crm_client, crm_actors["manager"], cid, "\n".join(lines).encode()
    )
    assert report["summary"]["created"] == 230 and report["summary"]["rejected"] == 1
    assert [r["row"] for r in report["rows"]] == list(range(1, 232))
    claimed = await crm_service.claim_leads(__import__("uuid").UUID(cid), "w", 500)
    assert len(claimed) == 230


async def test_given_single_lead_when_posting_then_created_or_409(crm_client, crm_actors):
    cid = await _campaign(crm_client, crm_actors)
    h = crm_actors["manager"].headers
    body = {"phone": "13800000001", "name": "单个", "agent": "agent", "tags": ["新"]}
    first = await crm_client.post(f"/api/campaigns/{cid}/leads", json=body, headers=h)
    assert first.status == 201, await first.text()
    again = await crm_client.post(f"/api/campaigns/{cid}/leads", json=body, headers=h)
    assert again.status == 409 and (await again.json())["details"]["field"] == "phone"
    bad = await crm_client.post(f"/api/campaigns/{cid}/leads", json={"phone": "x1"}, headers=h)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "phone"
    mine = await (await crm_client.get("/api/leads", headers=crm_actors["agent"].headers)).json()
    theirs = await (await crm_client.get("/api/leads", headers=crm_actors["agent2"].headers)).json()
    assert (mine["total"], theirs["total"]) == (1, 0)


async def test_given_json_records_with_differing_keys_when_importing_then_each_row_mapped(
    crm_client, crm_actors
):
    """JSON records are schemaless: a key only later records carry still counts."""
    cid = await _campaign(crm_client, crm_actors)
    body = json.dumps(
        [
            {"name": "甲", "phone": "13800000011"},
            {"name": "乙", "phone": "13800000012", "timezone": "Asia/Urumqi", "email": "y@x.cn"},
            {"姓名": "丙", "手机": "13800000013"},
            {"name": "丁", "note": "no number here"},
        ]
    ).encode()
    status, report = await _import(
        crm_client, crm_actors["manager"], cid, body, "?format=json", "application/json"
    )
    assert status == 200, report
    assert [(r["status"], r["reason"]) for r in report["rows"]] == [
        ("created", None), ("created", None), ("created", None), ("rejected", "missing_phone"),
    ]
    leads = await (
        await crm_client.get(
            f"/api/campaigns/{cid}/leads?limit=10", headers=crm_actors["manager"].headers
        )
    ).json()
    zones = {x["phone_e164"]: x["timezone"] for x in leads["items"]}
    assert zones == {
        "+8613800000011": None, "+8613800000012": "Asia/Urumqi", "+8613800000013": None
    }
