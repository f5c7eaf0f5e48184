"""The whole HTTP API fuzzed from its own OpenAPI document (schemathesis): never a 5xx.

The app is composed exactly as ``dialcrm serve`` composes it (CRM + dialer + pages) and runs on
a loopback port against the real sandbox Asterisk, in a thread of its own, because schemathesis
drives it synchronously. Every operation is exercised as an admin (everything reachable) and as
an agent (role checks on every route), with generated valid and invalid bodies, paths and queries.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from ari_app.settings import DialerSettings
from crm.app import crm_service_of
from crm.domain.enums import Role
from crm.settings import CrmSettings
from tests.conftest import ari_config_from_env
from web.main import build_app

EXAMPLES_PER_OPERATION = 12


@dataclass
class LiveApp:
    base_url: str
    tokens: dict[str, str]


class _ServerThread:
    """An event loop in a thread serving the app; coroutines are submitted to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def live_app(asterisk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    data = tmp_path_factory.mktemp("fuzz")
    dialer_settings = DialerSettings.load(
        {"DIALCRM_DATA_DIR": str(data), "DIALCRM_ARI_APP": ari_config_from_env().app + "-fuzz"}
    )
    crm_settings = CrmSettings(database_url=f"sqlite+aiosqlite:///{Path(data)}/crm.sqlite3",
                               recordings_dir=Path(data) / "recordings", password_scrypt_n=16)
    worker = _ServerThread()
    server = TestServer(build_app(dialer_settings, crm_settings), host="127.0.0.1")

    async def start() -> dict[str, str]:
        await server.start_server()
        service = crm_service_of(server.app)
        tokens = {}
        for name, role in (("fuzz-admin", Role.ADMIN), ("fuzz-agent", Role.AGENT)):
            user = await service.auth.create_user(name, role, password="fuzz-password-1")
            tokens[role.value] = (await service.auth.issue_token(user.id)).token
        await service.campaigns.create({"name": "fuzz campaign"})
        return tokens

    tokens = worker.run(start())
    try:
        yield LiveApp(str(server.make_url("")).rstrip("/"), tokens)
    finally:
        worker.run(server.close())
        worker.close()


@pytest.fixture(scope="module")
def api_schema(live_app: LiveApp) -> Any:
    return schemathesis.openapi.from_url(f"{live_app.base_url}/api/openapi.json")


def _problem(case: Any, live_app: LiveApp, role: str) -> str | None:
    response = case.call(base_url=live_app.base_url,
                         headers={"Authorization": f"Bearer {live_app.tokens[role]}"}, timeout=30)
    where = f"{case.method} {case.formatted_path} as {role} -> {response.status_code}"
    if response.status_code >= 500:
        return f"{where}: {response.text[:300]}\n  {case.as_curl_command()}"
    if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        body = response.json()
        if not (isinstance(body, dict) and body.get("error")):
            return f"{where}: 4xx without an error field: {str(body)[:200]}"
    return None


def _fuzz(api_schema: Any, live_app: LiveApp, role: str) -> tuple[int, list[str]]:
    """Every operation, valid and invalid inputs; returns (cases run, problems found)."""
    problems: list[str] = []
    ran = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      derandomize=True, suppress_health_check=list(HealthCheck),
                      phases=[Phase.explicit, Phase.generate])
            def run(case: Any) -> None:
                nonlocal ran
                ran += 1
                problem = _problem(case, live_app, role)
                if problem and len(problems) < 50:
                    problems.append(problem)

            try:
                run()
            except Unsatisfiable:  # e.g. no invalid input exists for a parameterless GET
                pass
    return ran, problems


@pytest.mark.parametrize("role", [Role.ADMIN.value, Role.AGENT.value])
def test_given_generated_requests_then_never_a_server_error(api_schema, live_app, role) -> None:
    ran, problems = _fuzz(api_schema, live_app, role)
    print(f"fuzzed {ran} requests as {role}")
    assert ran > 100, ran
    assert not problems, "\n".join(problems)


def test_given_the_schema_then_it_lists_the_dialer_and_crm_operations(api_schema) -> None:
    paths = set(api_schema.raw_schema["paths"])
    assert {"/api/calls", "/api/customers", "/api/agent/login"} <= paths, sorted(paths)
