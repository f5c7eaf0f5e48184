"""Request bodies are bounded per route while they stream (issue 17): the login a few KB, JSON
APIs 1 MiB, the rules YAML 512 KiB, lead imports ``max_upload_bytes``; chunked bodies (no
Content-Length) are counted as they arrive. Over the limit: 413 naming it. A body nested too
deeply for the parser: 400 naming the body, not a 500."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm.http.handlers_speech import MAX_RULES_YAML
from crm.http.routing import JSON_MAX_BODY, SMALL_MAX_BODY
from crm.settings import CrmSettings
from crm.testing import settings_for_tests

UPLOAD_LIMIT = 64 * 1024


@pytest.fixture
def crm_settings(crm_database_url: str, tmp_path: Path) -> CrmSettings:
    return dataclasses.replace(settings_for_tests(crm_database_url, tmp_path),
                               max_upload_bytes=UPLOAD_LIMIT)


async def _chunked(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """A body sent with ``Transfer-Encoding: chunked`` (aiohttp sends no Content-Length)."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _too_large(body: dict, limit: int) -> None:
    assert body["error"] == "too_large", body
    assert body["details"]["limit_bytes"] == limit, body
    assert str(limit) in body["message"]


@pytest.mark.parametrize("chunked", [False, True])
async def test_given_login_body_over_4kib_when_posted_then_413_naming_the_limit(
    crm_client, chunked: bool
):
    body = b'{"username": "agent", "password": "' + b"x" * 5000 + b'"}'
    resp = await crm_client.post("/api/auth/login", data=_chunked(body) if chunked else body,
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 413
    _too_large(await resp.json(), SMALL_MAX_BODY)


async def test_given_small_login_when_posted_then_still_works(crm_client):
    resp = await crm_client.post("/api/auth/login",
                                 data=_chunked(b'{"username": "agent", "password": "password-1"}'),
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 200


@pytest.mark.parametrize("chunked", [False, True])
async def test_given_json_body_over_1mib_when_posted_then_413(crm_client, crm_actors, chunked):
    body = b'{"name": "' + b"a" * (JSON_MAX_BODY + 10) + b'"}'
    headers = {**crm_actors["manager"].headers, "Content-Type": "application/json"}
    resp = await crm_client.post("/api/customers", data=_chunked(body) if chunked else body,
                                 headers=headers)
    assert resp.status == 413
    _too_large(await resp.json(), JSON_MAX_BODY)


async def test_given_5000_nested_brackets_when_posted_then_400_naming_the_body(
    crm_client, crm_actors
):
    body = b"[" * 5000 + b"]" * 5000
    headers = {**crm_actors["manager"].headers, "Content-Type": "application/json"}
    resp = await crm_client.post("/api/customers", data=body, headers=headers)
    got = await resp.json()
    assert resp.status == 400, got
    assert got["details"]["field"] == "body" and "nested" in got["message"]
    login = await crm_client.post("/api/auth/login", data=b"[" * 3000,
                                  headers={"Content-Type": "application/json"})
    assert login.status == 400


async def test_given_big_valid_json_when_posted_then_parsed_and_validated(crm_client, crm_actors):
    """A body near the limit (parsed in a worker thread) still reaches validation."""
    body = b'{"name": "x", "tags": [' + b",".join([b'"t"'] * 100_000) + b"]}"
    assert 64 * 1024 < len(body) < JSON_MAX_BODY
    headers = {**crm_actors["manager"].headers, "Content-Type": "application/json"}
    resp = await crm_client.post("/api/customers", data=body, headers=headers)
    assert resp.status == 400  # validation's answer (not 413, not 500)


async def test_given_chunked_rules_yaml_over_the_cap_when_imported_then_413(
    crm_client, crm_actors
):
    doc = b"rules:\n" + b"# padding\n" * (MAX_RULES_YAML // 10 + 10)
    headers = {**crm_actors["manager"].headers, "Content-Type": "application/yaml"}
    resp = await crm_client.post("/api/rules/import", data=_chunked(doc), headers=headers)
    assert resp.status == 413
    _too_large(await resp.json(), MAX_RULES_YAML)


async def test_given_deeply_nested_rules_yaml_when_imported_then_400(crm_client, crm_actors):
    headers = {**crm_actors["manager"].headers, "Content-Type": "application/yaml"}
    resp = await crm_client.post("/api/rules/import", data=b"[" * 5000, headers=headers)
    got = await resp.json()
    assert resp.status == 400, got
    assert got["details"]["field"] == "body"


async def _campaign(client, actors) -> str:
    resp = await client.post("/api/campaigns", json={"name": "limits"},
                             headers=actors["manager"].headers)
    return (await resp.json())["id"]


@pytest.mark.parametrize("chunked", [False, True])
async def test_given_import_over_max_upload_bytes_when_streamed_then_413(
    crm_client, crm_actors, chunked
):
    cid = await _campaign(crm_client, crm_actors)
    csv = b"phone,name\n" + b"+8613800138000,x\n" * (UPLOAD_LIMIT // 17 + 10)
    headers = {**crm_actors["manager"].headers, "Content-Type": "text/csv"}
    resp = await crm_client.post(f"/api/campaigns/{cid}/leads/import",
                                 data=_chunked(csv) if chunked else csv, headers=headers)
    assert resp.status == 413
    _too_large(await resp.json(), UPLOAD_LIMIT)


async def test_given_json_import_with_deep_record_when_imported_then_row_error_not_500(
    crm_client, crm_actors
):
    cid = await _campaign(crm_client, crm_actors)
    body = b'[{"phone": "+8613800138000", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]"
    headers = {**crm_actors["manager"].headers, "Content-Type": "application/json"}
    resp = await crm_client.post(f"/api/campaigns/{cid}/leads/import?format=json", data=body,
                                 headers=headers)
    assert resp.status == 400, await resp.text()


@pytest.mark.parametrize("chunked", [False, True])
async def test_given_recording_over_its_limit_when_uploaded_then_413(
    crm_client, crm_actors, monkeypatch, chunked
):
    monkeypatch.setattr("crm.http.handlers_work.MAX_RECORDING", 32 * 1024)
    dialer = crm_actors["dialer"].headers
    await crm_client.post(
        "/api/calls", json={"event_id": "e", "call_id": "rec-big", "type": "ended"},
        headers=dialer)
    audio = b"\0" * (64 * 1024)
    resp = await crm_client.put("/api/calls/rec-big/recording",
                                data=_chunked(audio) if chunked else audio,
                                headers={**dialer, "Content-Type": "audio/wav"})
    assert resp.status == 413
    _too_large(await resp.json(), 32 * 1024)


async def test_given_deeply_nested_mapping_option_when_importing_then_400_naming_it(
    crm_client, crm_actors
):
    cid = await _campaign(crm_client, crm_actors)
    headers = {**crm_actors["manager"].headers, "Content-Type": "text/csv"}
    resp = await crm_client.post(f"/api/campaigns/{cid}/leads/import",
                                 params={"mapping": "[" * 1500},  # past the parser's depth
                                 data=b"phone\n+8613800138000\n", headers=headers)
    got = await resp.json()
    assert resp.status == 400, got
    assert got["details"]["field"] == "mapping"
