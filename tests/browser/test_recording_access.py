"""A real browser plays a recording through its signed URL with its session cookie; another
agent's browser cannot; an expired URL stops playing. (CRM only: no Asterisk needed.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from crm.app import create_crm_app
from tests.helpers.audio import wav

PLAY = """async (url) => {
    const audio = new Audio();
    const result = new Promise((resolve) => {
        audio.onloadedmetadata = () => resolve({ok: true, duration: audio.duration});
        audio.onerror = () => resolve({ok: false, code: audio.error && audio.error.code});
    });
    audio.src = url;
    return await result;
}"""
SEEK = """async (url) => {
    const audio = new Audio();
    audio.muted = true;
    audio.preload = 'auto';
    const seeked = new Promise((resolve) => {
        audio.onseeked = () => resolve({ok: true, at: audio.currentTime});
        audio.onerror = () => resolve({ok: false});
    });
    audio.onloadedmetadata = () => { audio.currentTime = 1.5; };
    audio.src = url;
    return await seeked;
}"""
FETCH = """async ([method, url]) => {
    const r = await fetch(url, {method});
    return {status: r.status, body: await r.json()};
}"""


@pytest.fixture
async def crm_url(crm_settings, crm_service, crm_actors) -> AsyncIterator[str]:
    server = TestServer(create_crm_app(crm_settings, service=crm_service), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def signed_in(browser: Browser, base: str, username: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base}/api/openapi.json")  # any same-origin page
    status = await page.evaluate(
        """async ([u, p]) => (await fetch('/api/auth/login', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({username: u, password: p})})).status""",
        [username, "password-1"],
    )
    assert status == 200, username
    return page


async def test_given_agent_browser_when_playing_own_call_then_audio_loads_others_refused(
    browser: Browser,
    crm_url: str,
    crm_service: Any,
    crm_actors: Any,
    crm_clock: Any,
) -> None:
    await crm_service.ingest_call_event(
        {
            "event_id": "b-1",
            "call_id": "browser-1",
            "type": "ended",
            "agent_id": str(crm_actors["agent"].user_id),
        }
    )
    await crm_service.store_recording("browser-1", wav(2.0))
    agent = await signed_in(browser, crm_url, "agent")
    other = await signed_in(browser, crm_url, "agent2")

    got = await agent.evaluate(FETCH, ["GET", "/api/calls/browser-1/recording"])
    assert got["status"] == 200 and got["body"]["url"].startswith("/recordings/")
    url = got["body"]["url"]
    played = await agent.evaluate(PLAY, url)
    assert played["ok"] and abs(played["duration"] - 2.0) < 0.01, played
    sought = await agent.evaluate(SEEK, url)  # seeking: range requests on the signed URL
    assert sought["ok"] and abs(sought["at"] - 1.5) < 0.01, sought

    refused = await other.evaluate(FETCH, ["GET", "/api/calls/browser-1/recording"])
    assert refused["status"] == 403 and refused["body"]["error"] == "forbidden"
    stolen = await other.evaluate(FETCH, ["GET", url])  # the agent's URL in another session
    assert stolen["status"] == 403 and stolen["body"]["error"] == "url_invalid"
    assert not (await other.evaluate(PLAY, url))["ok"]

    crm_clock.advance(timedelta(minutes=6))
    expired = await agent.evaluate(FETCH, ["GET", url])
    assert expired["status"] == 410 and expired["body"]["error"] == "url_expired"
    fresh = await signed_in(browser, crm_url, "agent")  # no media cache of the earlier play
    assert not (await fresh.evaluate(PLAY, url))["ok"]
