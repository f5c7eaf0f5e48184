"""One navigation on every page (issue 13 item 9): the links a role may open, the current page
marked, sign-out, a language switch that keeps the page's query, the landing page's links,
the role's landing after the login, and /favicon.ico."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crm.domain.enums import Role
from crm.http.routing import SERVICE_KEY, SESSION_COOKIE
from tests.helpers.web_apps import PASSWORD, console_app
from web.main import favicon, index
from web.nav import landing_path
from web.wallboard.board import install_wallboard

CONSOLE_PAGES = ["/console", "/console/reports", "/console/experiments", "/console/models"]


@pytest.fixture
async def client(tmp_path: Path):
    async with console_app(tmp_path) as (app, *_):
        app.router.add_get("/", index)
        app.router.add_get("/favicon.ico", favicon)
        install_wallboard(app)
        async with TestClient(TestServer(app)) as client:
            yield client


async def _session(client: TestClient, name: str) -> dict[str, str]:
    session_id, _ = await client.server.app[SERVICE_KEY].auth.login(name, PASSWORD)
    return {SESSION_COOKIE: session_id}


def _links(page: str) -> dict[str, str]:
    nav = re.search(r'<nav class="mainnav".*?</nav>', page, re.S)
    assert nav, "no navigation on the page"
    return {m.group(2): html.unescape(m.group(1))
            for m in re.finditer(r'href="([^"]*)" data-testid="nav-([a-z]+)"', nav.group(0))}


@pytest.mark.parametrize("path", ["/", "/agent", *CONSOLE_PAGES, "/wallboard", "/login"])
async def test_given_manager_when_any_page_then_one_navigation_to_console_and_wallboard(
        client, path):
    resp = await client.get(path, cookies=await _session(client, "boss"))
    assert resp.status == 200
    links = _links(await resp.text())
    assert links["console"] == "/console" and links["wallboard"] == "/wallboard"
    assert links["desk"] == "/agent" and "admin" not in links


async def test_given_agent_when_desk_then_navigation_has_no_console(client):
    page = await (await client.get("/agent", cookies=await _session(client, "agent1"))).text()
    links = _links(page)
    assert links == {"desk": "/agent"}  # /customers joins once that page is served
    assert 'data-testid="sign-out"' in page and 'data-signout' in page
    assert re.search(r'data-testid="nav-desk" aria-current="page"', page)


async def test_given_admin_when_campaign_page_then_console_link_is_current(client):
    page = await (await client.get("/console/reports",
                                   cookies=await _session(client, "root"))).text()
    assert _links(page)["admin"] == "/admin"
    assert re.search(r'data-testid="nav-reports" aria-current="page"', page)
    assert not re.search(r'data-testid="nav-console" aria-current', page)


async def test_given_login_with_next_when_language_switched_then_next_kept(client):
    page = await (await client.get("/login?next=/console/reports&lang=zh")).text()
    en = re.search(r'href="([^"]*)" [^>]*data-testid="lang-en"', page)
    assert en and html.unescape(en.group(1)) == "/login?next=/console/reports&lang=en"
    followed = await (await client.get(html.unescape(en.group(1)))).text()
    assert 'data-next="/console/reports"' in followed and "Sign in" in followed


async def test_given_anonymous_when_landing_page_then_link_to_log_in(client):
    page = await (await client.get("/")).text()
    assert 'href="/login"' in page and 'data-testid="login-link"' in page
    assert 'data-testid="nav-login"' in page


@pytest.mark.parametrize(("who", "start"), [("agent1", "/agent"), ("boss", "/console")])
async def test_given_signed_in_when_landing_page_then_role_links_with_its_start(
        client, who, start):
    page = await (await client.get("/", cookies=await _session(client, who))).text()
    first = re.search(r'<a href="([^"]*)" data-testid="start-[a-z]+"\s+class="primary"', page)
    assert first and first.group(1) == start


def test_given_roles_when_landing_then_agent_desk_else_console() -> None:
    assert landing_path(Role.AGENT) == "/agent"
    assert landing_path(Role.MANAGER) == landing_path(Role.ADMIN) == "/console"


async def test_given_browser_when_favicon_requested_then_icon(client):
    resp = await client.get("/favicon.ico")
    assert resp.status == 200 and resp.content_type == "image/x-icon"
    assert (await resp.read())[:4] == b"\x00\x00\x01\x00"
