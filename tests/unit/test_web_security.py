"""The pages' security (issue 17, #11 and #15): the login sends a browser only to a path of
this site; every response carries a Content-Security-Policy, no framing, nosniff, a referrer
policy, and a ``Server`` header without versions."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crm.http.routing import SERVICE_KEY, SESSION_COOKIE
from tests.helpers.web_apps import PASSWORD, console_app
from web import TEMPLATES_DIR
from web.main import index
from web.redirects import login_url, safe_next

EVIL = ["//evil.example", "/\\evil.example/x", "/\t/evil.example", "/\n/evil.example",
        "https://evil.example/", "javascript:alert(1)", "evil.example", "/ /evil.example",
        "\\\\evil.example", ""]


@pytest.fixture
async def client(tmp_path: Path):
    async with console_app(tmp_path) as (app, *_):
        app.router.add_get("/", index)
        async with TestClient(TestServer(app)) as client:
            yield client


async def test_given_anonymous_or_agent_when_index_then_no_internals(client):
    """Issue 17 (#15): Asterisk's version and the connections are an admin's to see. (The
    admin's view, on the real Asterisk: tests/browser/test_index_page.py.)"""
    anonymous = await client.get("/")
    text = await anonymous.text()
    assert anonymous.status == 200 and 'data-testid="login-link"' in text
    for internal in ("asterisk-version", "ari-state", "ami-state"):
        assert internal not in text
    crm = client.server.app[SERVICE_KEY]
    session_id, _ = await crm.auth.login("agent1", PASSWORD)
    agent = await (await client.get("/", cookies={SESSION_COOKIE: session_id})).text()
    assert "asterisk-version" not in agent and "ari-state" not in agent


@pytest.mark.parametrize("target", EVIL)
def test_given_other_site_when_checked_then_default(target: str) -> None:
    assert safe_next(target, "/agent") == "/agent"


@pytest.mark.parametrize("target", ["/agent", "/console/campaigns/5?lang=en", "/x#y", "/"])
def test_given_own_path_when_checked_then_kept(target: str) -> None:
    assert safe_next(target, "/agent") == target


def test_given_page_path_when_login_url_then_quoted() -> None:
    assert login_url("/console/reports") == "/login?next=/console/reports"
    assert login_url("//evil.example") == "/login?next=/"


def _next_of(page: str) -> str:
    found = re.search(r'data-next="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


@pytest.mark.parametrize("query", ["next=/%5Cevil.example/x", "next=/%09/evil.example",
                                   "next=//evil.example", "next=https://evil.example",
                                   "next=/%0A/evil.example"])
async def test_given_foreign_next_when_login_page_then_next_is_the_roles_page(client, query):
    resp = await client.get(f"/login?{query}")
    assert resp.status == 200
    assert _next_of(await resp.text()) == ""  # the page goes to the role's landing (issue 13)


async def test_given_own_next_when_login_page_then_kept(client):
    resp = await client.get("/login?next=/console/reports")
    assert _next_of(await resp.text()) == "/console/reports"


@pytest.mark.parametrize("path", ["/login", "/api/openapi.json", "/static/app.css", "/nowhere",
                                  "/console"])
async def test_given_any_response_when_sent_then_security_headers(client, path):
    resp = await client.get(path, allow_redirects=False)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    server = resp.headers.get("Server", "")
    assert "aiohttp" not in server and "Python" not in server and not re.search(r"\d", server)


def test_given_templates_when_read_then_no_inline_script_or_style() -> None:
    """What the CSP forbids is not in the templates: scripts are files, boot data is JSON."""
    for path in TEMPLATES_DIR.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path.name, tag)
        assert "<style" not in text and " style=" not in text, path.name
        assert not re.search(r"\son[a-z]+=", text), path.name
