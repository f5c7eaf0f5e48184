"""Fixtures for tests on the real Asterisk (the `asterisk` fixture is in tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ari_app import sandbox
from ari_app.ari import AriClient, AriConfig, AriEventStream
from ari_app.errors import TelephonyError
from ari_app.testing import DialerRig, EventLog
from tests.conftest import ari_config_from_env


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


@pytest.fixture
async def rig(ari_config: AriConfig, tmp_path: Path, ari: AriClient) -> AsyncIterator[DialerRig]:
    """The whole dialer in-process on the sandbox (``ari`` cleans Asterisk up after it)."""
    rig = DialerRig(ari_config, tmp_path)
    await rig.start()
    yield rig
    await rig.close()


async def _clean_asterisk(client: AriClient) -> None:
    """Hang up this run's channels and destroy its bridges (only those of our Stasis app:
    other runs or a demo may share the Asterisk), so tests never leak calls."""
    try:
        app = await client.request("GET", f"/applications/{client.config.app}")
    except TelephonyError:
        return  # the app is not registered (no events socket): nothing of ours is left
    for channel_id in app.get("channel_ids", []):
        await _ignore(client.hangup(channel_id))
    for bridge_id in app.get("bridge_ids", []):
        await _ignore(client.destroy_bridge(bridge_id))


async def _ignore(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except TelephonyError:
        pass


