"""The ARI client against an aiohttp test server standing in for Asterisk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from ari_app.ari import AriClient, AriConfig, AriEvent, AriEventStream, EventRouter, Reconnected
from ari_app.errors import AriNotFound, AriRequestFailed, AriUnavailable


class FakeAri:
    """Records requests; serves canned answers and scripted event sockets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], str | None]] = []
        self.sockets: list[list[dict[str, object]]] = []
        self.connections = 0
        self.delay = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ari/events", self.events)
        app.router.add_route("*", "/ari/{tail:.*}", self.rest)
        return app

    async def rest(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        self.requests.append((request.method, request.path, dict(request.query), auth))
        await asyncio.sleep(self.delay)
        if request.path == "/ari/channels/gone":
            return web.json_response({"message": "Channel not found"}, status=404)
        if request.path == "/ari/bridges/bad":
            return web.json_response({"message": "Bridge type invalid"}, status=400)
        if request.method == "DELETE":
            return web.Response(status=204)
        return web.json_response({"id": request.query.get("channelId", "x"), "ok": True})

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        script = self.sockets[self.connections] if self.connections < len(self.sockets) else []
        self.connections += 1
        for event in script:
            await ws.send_str(json.dumps(event))
        if self.connections < len(self.sockets):
            await ws.close()  # drop: the client must reconnect
        else:
            async for msg in ws:
                if msg.type == WSMsgType.CLOSE:
                    break
        return ws


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAri, AriConfig]]:
    ari = FakeAri()
    server = TestServer(ari.app(), host="127.0.0.1")
    await server.start_server()
    config = AriConfig(url=str(server.make_url("/")).rstrip("/"), user="u", password="p",
                       request_timeout=0.5)
    yield ari, config
    await server.close()


async def test_given_originate_when_sent_then_params_and_auth_reach_ari(fake) -> None:
    ari, config = fake
    async with AriClient(config) as client:
        result = await client.originate(
            "Local/13800138000@sim-pstn", channel_id="c1", app_args="customer",
            caller_id="4008888000", timeout_s=25, formats="ulaw",
        )
    method, path, query, auth = ari.requests[0]
    assert (method, path) == ("POST", "/ari/channels")
    assert query == {
        "endpoint": "Local/13800138000@sim-pstn", "app": "dialcrm", "appArgs": "customer",
        "channelId": "c1", "callerId": "4008888000", "timeout": "25", "formats": "ulaw",
    }
    assert auth == "Basic dTpw"
    assert result.id == "c1"


async def test_given_missing_channel_when_hangup_then_not_found_error(fake) -> None:
    _, config = fake
    async with AriClient(config) as client:
        with pytest.raises(AriNotFound) as caught:
            await client.hangup("gone")
    assert caught.value.status == 404
    assert "Channel not found" in str(caught.value)


async def test_given_bad_request_when_sent_then_request_failed_with_message(fake) -> None:
    _, config = fake
    async with AriClient(config) as client:
        with pytest.raises(AriRequestFailed) as caught:
            await client.create_bridge("bad")
    assert caught.value.status == 400 and caught.value.message == "Bridge type invalid"


async def test_given_slow_ari_when_request_then_unavailable_after_timeout(fake) -> None:
    ari, config = fake
    ari.delay = 2.0
    async with AriClient(config) as client:
        with pytest.raises(AriUnavailable):
            await client.asterisk_info()


async def test_given_nothing_listening_when_request_then_unavailable() -> None:
    config = AriConfig(url="http://127.0.0.1:9", request_timeout=0.5)
    async with AriClient(config) as client:
        with pytest.raises(AriUnavailable):
            await client.list_channels()


def test_given_bad_play_target_then_value_error() -> None:
    client = AriClient(AriConfig())
    with pytest.raises(ValueError):
        asyncio.run(client.play("nowhere", "x", "sound:beep", "p1"))


async def test_given_dropped_socket_when_events_flow_then_reconnects_in_order(fake) -> None:
    ari, config = fake
    ari.sockets = [
        [{"type": "StasisStart", "channel": {"id": "a", "state": "Up"}, "args": ["customer"]}],
        [{"type": "ChannelDestroyed", "channel": {"id": "a"}, "cause": 16, "cause_txt": "Normal"}],
    ]
    seen: list[AriEvent | Reconnected] = []
    got_two = asyncio.Event()

    async def on_event(event: AriEvent) -> None:
        seen.append(event)
        if len([s for s in seen if isinstance(s, AriEvent)]) == 2:
            got_two.set()

    async def on_connected(marker: Reconnected) -> None:
        seen.append(marker)

    async with AriClient(config) as client:
        stream = AriEventStream(
            config, client.session, on_event, on_connected, backoff=(0.01, 0.05)
        )
        task = asyncio.create_task(stream.run())
        async with asyncio.timeout(5):
            await got_two.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    kinds = [
        f"AriEvent:{s.type}" if isinstance(s, AriEvent) else f"Reconnected:{s.count}" for s in seen
    ]
    assert kinds == [
        "Reconnected:0", "AriEvent:StasisStart", "Reconnected:1", "AriEvent:ChannelDestroyed"
    ]
    assert stream.reconnects == 1
    destroyed = seen[-1]
    assert isinstance(destroyed, AriEvent) and destroyed.cause == 16


async def test_given_failing_handler_when_events_dispatched_then_later_handlers_still_run() -> None:
    router = EventRouter()
    calls: list[str] = []

    async def broken(event: AriEvent) -> None:
        raise RuntimeError("boom")

    async def fine(event: AriEvent) -> None:
        calls.append(event.type)

    router.on("Dial", broken)
    router.on("Dial", fine)
    await router(AriEvent.from_json({"type": "Dial", "peer": {"id": "p"}, "dialstatus": "BUSY"}))

    assert calls == ["Dial"]
    assert router.failures == 1


def test_given_dial_event_json_then_peer_and_status_lifted() -> None:
    event = AriEvent.from_json(
        {"type": "Dial", "peer": {"id": "c1", "name": "Local/1@sim-pstn-0;1"}, "dialstatus": "BUSY"}
    )
    assert (event.channel_id, event.dial_status) == ("c1", "BUSY")


async def test_given_application_replaced_when_read_then_stream_stops_without_reconnect(
    fake,
) -> None:
    ari, config = fake
    ari.sockets = [[{"type": "ApplicationReplaced", "application": "dialcrm"}], []]
    seen: list[str] = []
    dispatched = asyncio.Event()

    async def on_event(event: AriEvent) -> None:
        seen.append(event.type)
        dispatched.set()

    async with AriClient(config) as client:
        stream = AriEventStream(config, client.session, on_event, backoff=(0.01, 0.05))
        task = asyncio.create_task(stream.run())
        async with asyncio.timeout(5):
            await stream.reader_stopped.wait()
            await dispatched.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert stream.replaced
    assert ari.connections == 1
    assert seen == ["ApplicationReplaced"]
