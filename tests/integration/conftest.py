"""Fixtures for tests on the real Asterisk (the `asterisk` fixture is in tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ari_app import sandbox
from ari_app.ami import AmiClient, AmiConfig
from ari_app.ari import AriClient, AriConfig, AriEventStream
from ari_app.errors import TelephonyError
from tests.conftest import ari_config_from_env
from tests.integration.support import EventLog, SippPhone


@pytest.fixture
def ari_config(asterisk: sandbox.Sandbox) -> AriConfig:
    return ari_config_from_env()


@pytest.fixture
async def ari(ari_config: AriConfig) -> AsyncIterator[AriClient]:
    async with AriClient(ari_config) as client:
        yield client
        await _clean_asterisk(client)


@pytest.fixture
async def events(ari: AriClient) -> AsyncIterator[EventLog]:
    """Our Stasis app's event stream, recorded; connected before the test starts."""
    log = EventLog()
    stream = AriEventStream(ari.config, ari.session, on_event=log.add, on_connected=log.connected)
    task = asyncio.create_task(stream.run())
    await stream.wait_connected()
    log.stream = stream
    yield log
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _clean_asterisk(client: AriClient) -> None:
    """Hang up every channel and destroy every bridge, so tests never leak calls."""
    try:
        for channel in await client.list_channels():
            await _ignore(client.hangup(channel["id"]))
        for bridge in await client.list_bridges():
            await _ignore(client.destroy_bridge(bridge["id"]))
    except TelephonyError:
        pass


async def _ignore(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except TelephonyError:
        pass


@pytest.fixture
def prompts_dir(asterisk: sandbox.Sandbox) -> Path:
    return asterisk.path("/usr/share/asterisk/sounds/dialcrm")


@pytest.fixture
async def sipp_phone(
    asterisk: sandbox.Sandbox, prompts_dir: Path, tmp_path: Path, ari_config: AriConfig
) -> AsyncIterator[Callable[..., Awaitable[SippPhone]]]:
    """A factory of SIPp agent phones, reachable before it returns; stopped at the end."""
    phones: list[SippPhone] = []
    ami = AmiClient(AmiConfig())
    await ami.connect()

    async def start(extension: str, wav: str = "agent-talk") -> SippPhone:
        # SIP on 5000+ext, media on 30000+10*(ext-1000): outside Asterisk's 10000-20000,
        # and 10 apart because SIPp binds more than one media port.
        number = int(extension)
        phone = SippPhone(extension, 5000 + number, 30000 + 10 * (number - 1000),
                          prompts_dir / f"{wav}.ulaw.wav", tmp_path)
        phones.append(phone)
        await asyncio.to_thread(phone.start)
        # The qualify sent right after REGISTER found no SIPp listening: ask again, now.
        async with AriClient(ari_config) as ari:
            for _ in range(50):
                await ami.action("PJSIPQualify", Endpoint=extension)
                state = await ari.request("GET", f"/endpoints/PJSIP/{extension}")
                if state.get("state") == "online":
                    return phone
                await asyncio.sleep(0.1)
        raise AssertionError(f"phone {extension} never became reachable")

    yield start
    await ami.close()
    for phone in phones:
        phone.stop()
