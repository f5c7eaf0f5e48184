"""Shared fixtures: the real Asterisk (sandbox or ASTERISK_ARI_URL), the CRM's (``crm_*``, from
``tests/helpers/crm_fixtures.py``) and test markers.

The sandbox is started once per session (``ari_app.sandbox``) unless
``ASTERISK_ARI_URL`` points at an existing Asterisk. In CI (``CI=true``) a
sandbox that cannot start fails the run; elsewhere, without root, the tests skip
and the summary says how to enable them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from ari_app import sandbox
from ari_app.ami import AmiClient, AmiConfig
from ari_app.ari import AriClient, AriConfig
from ari_app.sim import SippPhone, start_phone
from tests.helpers.crm_fixtures import (  # noqa: F401 - fixtures for every test
    crm_actors,
    crm_client,
    crm_clock,
    crm_database_url,
    crm_service,
    crm_settings,
)

HERE = Path(__file__).resolve().parent
MARKED_DIRS = {"integration": HERE / "integration", "browser": HERE / "browser"}


def ari_config_from_env() -> AriConfig:
    return AriConfig(
        url=os.environ.get("ASTERISK_ARI_URL", "http://127.0.0.1:8088"),
        user=os.environ.get("ASTERISK_ARI_USER", "dialcrm"),
        password=os.environ.get("ASTERISK_ARI_PASSWORD", "dialcrm-sandbox-ari"),
        # One Stasis app per test run: runs (and a demo) sharing one Asterisk never collide.
        app=os.environ.get("ASTERISK_ARI_APP", f"dialcrm-test-{os.getpid()}"),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        for marker, folder in MARKED_DIRS.items():
            if path.is_relative_to(folder):
                item.add_marker(getattr(pytest.mark, marker))


_SKIP_REASON: list[str] = []


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
    if report.failed and "asterisk" in getattr(item, "fixturenames", ()):  # dump its log
        box = sandbox.Sandbox.from_env()
        report.sections.append(("Asterisk log (tail)", sandbox.tail_log(box, 60)))




@pytest.fixture
def prompts_dir(asterisk: sandbox.Sandbox) -> Path:
    return asterisk.path("/usr/share/asterisk/sounds/dialcrm")


@pytest.fixture
async def sipp_phone(
    asterisk: sandbox.Sandbox, prompts_dir: Path, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[SippPhone]]]:
    """A factory of SIPp agent phones, reachable before it returns; stopped at the end."""
    phones: list[SippPhone] = []
    ami = AmiClient(AmiConfig())
    await ami.connect()
    ari = AriClient(ari_config_from_env())

    async def start(extension: str, wav: str = "agent-talk") -> SippPhone:
        phone = await start_phone(extension, prompts_dir / f"{wav}.ulaw.wav", tmp_path, ami, ari)
        phones.append(phone)
        return phone

    yield start
    await ami.close()
    await ari.close()
    for phone in phones:
        phone.stop()
