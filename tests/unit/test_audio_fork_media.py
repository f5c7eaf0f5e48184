"""The chan_websocket media socket client against a local WebSocket server speaking like it."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ari_app.ari import AriClient, AriConfig, ChannelInfo
from ari_app.errors import AriUnavailable

SEEN = web.AppKey("seen", list)


async def _media(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("media",))
    await ws.prepare(request)
    request.app[SEEN].append((request.match_info["conn"], ws.ws_protocol))
    await ws.send_str("MEDIA_START connection_id:c1 format:slin16 optimal_frame_size:640 ptime:20")
    for i in range(3):
        await ws.send_bytes(bytes([i]) * 640)
    await ws.close(code=1000)  # what Asterisk does when the media channel is deleted
    return ws


@pytest.fixture
async def server():  # type: ignore[no-untyped-def]
    app = web.Application()
    app[SEEN] = []
    app.router.add_get("/media/{conn}", _media)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


async def test_given_media_channel_when_connected_then_start_text_frames_then_closed(server):  # type: ignore[no-untyped-def]
    config = AriConfig(url=str(server.make_url("")).rstrip("/"))
    async with AriClient(config) as ari:
        socket = await ari.open_media("c1")
        frames = [await socket.receive(2.0) for _ in range(5)]
        await socket.close()
    assert isinstance(frames[0], str) and frames[0].startswith("MEDIA_START")
    assert frames[1:4] == [bytes([i]) * 640 for i in range(3)]
    assert frames[4] is None, "a closed socket reads as None"
    assert server.app[SEEN] == [("c1", "media")]


async def test_given_nothing_listening_when_connecting_then_ari_unavailable():
    config = AriConfig(url="http://127.0.0.1:9")  # discard port: connection refused
    async with AriClient(config) as ari:
        with pytest.raises(AriUnavailable):
            await ari.open_media("c1", timeout=2.0)


def test_given_external_media_response_then_connection_id_from_channelvars():
    assert ChannelInfo.from_json({"id": "m1", "channelvars": {
        "MEDIA_WEBSOCKET_CONNECTION_ID": "abc"}}).media_connection_id == "abc"
    assert ChannelInfo.from_json({"id": "m1"}).media_connection_id == "m1"
