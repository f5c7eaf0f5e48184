"""A customer world for the customer 360's tests (API and browser): a campaign of
``manager``'s, two customers (张三丰 assigned to ``agent``, John Smith), a call of ``agent``'s
with a transcript, its post-call analysis, the rules that fired and a recording; 张三丰's
number on the global do-not-call list."""

from __future__ import annotations

from typing import Any

from tests.helpers.audio import wav


async def _json(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def customer_world(client: Any, service: Any, actors: dict[str, Any]) -> dict[str, Any]:
    """A campaign of ``manager``'s with two customers (one assigned to ``agent``), a call of
    ``agent``'s with a transcript, its analysis, a rule firing and a recording."""
    await service.rules.seed_defaults_if_empty()
    campaign = await service.campaigns.create({"name": "春季 Spring",
                                               "manager_id": actors["manager"].user_id})
    m = actors["manager"].headers
    url = f"/api/campaigns/{campaign.id}/leads"
    zhang = await _json(await client.post(url, headers=m, json={
        "phone": "13800138000", "name": "张三丰", "tags": ["VIP"], "agent": "agent"}), 201)
    smith = await _json(await client.post(url, headers=m, json={
        "phone": "010 6234 5678", "name": "John Smith"}), 201)
    cid = zhang["customer_id"]
    ids = {"customer_id": cid, "agent_id": "agent", "campaign_id": str(campaign.id)}
    await service.ingest_call_event({"event_id": "v-b", "call_id": "c360-1", "type": "bridged",
                                     "occurred_at": "2026-03-02T03:00:00Z", **ids})
    await service.add_transcript_segment("c360-1", {
        "segment_id": "s1", "speaker": "customer", "start_s": 5.0, "end_s": 9.0,
        "text": "We are very interested in a cooperation, what is the price? Sounds great.",
        "confidence": 0.9})
    await service.ingest_call_event({"event_id": "v-a", "call_id": "c360-1", "type": "answered"})
    await service.ingest_call_event({"event_id": "v-e", "call_id": "c360-1", "type": "ended",
                                     "talk_seconds": 240})
    await service.store_recording("c360-1", wav(1.0))
    await service.dnc.add("13800138000", reason="asked")
    return {"campaign": campaign, "customer_id": cid, "smith_id": smith["customer_id"]}
