"""Transcript segments: the dialer's push (in-process and HTTP), storage, the transcript API."""

from __future__ import annotations

import pytest

from crm.errors import InvalidInputError, NotFoundError


def _seg(i: int = 1, text: str = "hello", **extra):
    return {"segment_id": f"s{i}", "speaker": "customer", "start_s": float(i), "end_s": i + 0.9,
            "text": text, "confidence": 0.9, "language": "en", **extra}


async def test_given_same_segment_twice_when_adding_then_stored_once(crm_service):
    first = await crm_service.add_transcript_segment("call-1", _seg(1))
    again = await crm_service.add_transcript_segment("call-1", _seg(1, text="changed"))
    assert (first.created, again.created) == (True, False)
    _, rows = await crm_service.transcripts.transcript("call-1")
    assert [r.text for r in rows] == ["hello"]


async def test_given_gap_marker_when_adding_then_stored_as_gap(crm_service):
    await crm_service.add_transcript_segment(
        "call-2", {"segment_id": "g1", "speaker": "customer", "start_s": 3, "end_s": 9,
                   "gap": True, "reason": "recogniser_down"})
    call, rows = await crm_service.transcripts.transcript("call-2")
    assert call is None and rows[0].gap and rows[0].reason == "recogniser_down"


@pytest.mark.parametrize(
    ("segment", "field"),
    [
        ({"speaker": "customer", "start_s": 0, "end_s": 1, "text": "x"}, "segment_id"),
        (_seg(speaker="robot"), "speaker"),
        (_seg(start_s="soon"), "start_s"),
        (_seg(end_s=0.5, start_s=2.0), "end_s"),
        (_seg(confidence=1.5), "confidence"),
        ({k: v for k, v in _seg().items() if k != "text"}, "text"),
        (_seg(gap=True, text=None), "reason"),
        (_seg(mood="happy"), "mood"),
        ("not an object", "body"),
    ],
)
async def test_given_bad_segment_when_adding_then_invalid_input_names_field(
    crm_service, segment, field
):
    with pytest.raises(InvalidInputError) as err:
        await crm_service.add_transcript_segment("call-3", segment)
    assert err.value.field == field
    with pytest.raises(NotFoundError):  # nothing half-written
        await crm_service.transcripts.transcript("call-3")


async def test_given_segments_via_http_when_getting_transcript_then_roles_checked(
    crm_client, crm_actors
):
    dialer = crm_actors["dialer"].headers
    await crm_client.post("/api/calls", headers=dialer, json={
        "event_id": "e1", "call_id": "c-http", "type": "bridged", "agent_id": "agent"})
    for i in (2, 1):
        resp = await crm_client.post("/api/calls/c-http/transcript", json=_seg(i), headers=dialer)
        assert resp.status == 201, await resp.text()
    dup = await crm_client.post("/api/calls/c-http/transcript", json=_seg(1), headers=dialer)
    assert dup.status == 200 and (await dup.json())["duplicate"] is True
    bad = await crm_client.post("/api/calls/c-http/transcript", json=_seg(3, confidence="x"),
                                headers=dialer)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "confidence"
    own = await crm_client.get("/api/calls/c-http/transcript", headers=crm_actors["agent"].headers)
    body = await own.json()
    assert own.status == 200 and [s["segment_id"] for s in body["segments"]] == ["s1", "s2"]
    other = await crm_client.get("/api/calls/c-http/transcript",
                                 headers=crm_actors["agent2"].headers)
    assert other.status == 403
    mgr = await crm_client.get("/api/calls/c-http/transcript",
                               headers=crm_actors["manager"].headers)
    assert mgr.status == 200
    agent_push = await crm_client.post("/api/calls/c-http/transcript", json=_seg(4),
                                       headers=crm_actors["agent"].headers)
    assert agent_push.status == 403
    admin = crm_actors["admin"].headers
    missing = await crm_client.get("/api/calls/nope/transcript", headers=admin)
    assert missing.status == 404


async def test_given_openapi_when_fetched_then_transcript_paths_documented(crm_client):
    doc = await (await crm_client.get("/api/openapi.json")).json()
    path = doc["paths"]["/api/calls/{call_id}/transcript"]
    assert set(path) == {"get", "post"}
    assert "TranscriptSegmentIn" in doc["components"]["schemas"]


async def test_given_malformed_json_when_posting_segment_then_400_body(crm_client, crm_actors):
    headers = {**crm_actors["dialer"].headers, "Content-Type": "application/json"}
    resp = await crm_client.post("/api/calls/c-x/transcript", data=b"{not json", headers=headers)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "body"
    resp = await crm_client.post("/api/calls/c-x/transcript", json=[1, 2], headers=headers)
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "body"
    too_long = "x" * 129
    resp = await crm_client.post(f"/api/calls/{too_long}/transcript", headers=headers,
                                 json=_seg(1))
    assert resp.status == 400 and (await resp.json())["details"]["field"] == "call_id"
