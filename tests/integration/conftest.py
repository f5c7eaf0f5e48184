"""Fixtures for tests on the real Asterisk sandbox.

The sandbox is started once per session (``ari_app.sandbox``) unless
``ASTERISK_ARI_URL`` points at an existing Asterisk. In CI (``CI=true``) a
sandbox that cannot start fails the run; elsewhere, without root, the tests skip
and the summary says how to enable them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ari_app import sandbox
from ari_app.ari import AriClient, AriConfig, AriEventStream
from ari_app.errors import TelephonyError
from tests.integration.support import EventLog, SippPhone

_SKIP_REASON: list[str] = []


def _ari_config() -> AriConfig:
    return AriConfig(
        url=os.environ.get("ASTERISK_ARI_URL", "http://127.0.0.1:8088"),
        user=os.environ.get("ASTERISK_ARI_USER", "dialcrm"),
        password=os.environ.get("ASTERISK_ARI_PASSWORD", "dialcrm-sandbox-ari"),
        app=os.environ.get("ASTERISK_ARI_APP", "dialcrm"),
    )


@pytest.fixture(scope="session")
def asterisk() -> Iterator[sandbox.Sandbox]:
    """A running Asterisk: the sandbox (started here if needed) or ASTERISK_ARI_URL."""
    box = sandbox.Sandbox.from_env()
    external = bool(os.environ.get("ASTERISK_ARI_URL"))
    started = False
    if not external and os.geteuid() != 0 and sandbox.ari_info(box) is None:
        reason = (
            "integration tests need the Asterisk sandbox: run as root (make test does "
            "everything) or set ASTERISK_ARI_URL/ASTERISK_AMI_* to an existing Asterisk"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        _SKIP_REASON.append(reason)
        pytest.skip(reason)
    if not external and sandbox.ari_info(box) is None:
        try:
            sandbox.up(box)
        except sandbox.SandboxError as exc:
            pytest.fail(f"the Asterisk sandbox could not start: {exc}", pytrace=False)
        started = True
    if sandbox.ari_info(box) is None:
        pytest.fail(f"ARI at {box.ari_url} does not answer", pytrace=False)
    yield box
    if started and os.environ.get("DIALCRM_KEEP_SANDBOX") != "1":
        sandbox.down(box)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SKIP_REASON:
        terminalreporter.write_line(
            "!!! INTEGRATION TESTS SKIPPED: " + _SKIP_REASON[0], red=True, bold=True
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "asterisk" in getattr(item, "fixturenames", ()):
        box = sandbox.Sandbox.from_env()
        report.sections.append(("Asterisk log (tail)", sandbox.tail_log(box, 60)))


@pytest.fixture
def ari_config(asterisk: sandbox.Sandbox) -> AriConfig:
    return _ari_config()


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
def sipp_phone(asterisk: sandbox.Sandbox, prompts_dir: Path, tmp_path: Path) -> Iterator[type]:
    """A factory of SIPp agent phones; every phone started is stopped at the end."""
    phones: list[SippPhone] = []

    def start(extension: str, port: int, media_port: int, wav: str = "agent-talk") -> SippPhone:
        phone = SippPhone(extension, port, media_port, prompts_dir / f"{wav}.ulaw.wav", tmp_path)
        phones.append(phone)
        phone.start()
        return phone

    yield start  # type: ignore[misc]
    for phone in phones:
        phone.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.integration)
