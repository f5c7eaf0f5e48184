"""Every page under the Content-Security-Policy (issue 17, #15): loaded in Chromium as an admin,
no page triggers a CSP violation (an inline script or style, a foreign origin) and each still
runs its script. The app is wired with a faked dialer (no Asterisk needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser

from crm.http.routing import SESSION_COOKIE
from crm.services.customers import CustomerInput
from tests.helpers.web_apps import PASSWORD, console_app
from web.customers.pages import add_customer_pages
from web.main import index
from web.wallboard.board import install_wallboard

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));
"""


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    async with console_app(tmp_path) as (app, crm, *_):
        app.router.add_get("/", index)
        add_customer_pages(app)
        install_wallboard(app)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield str(server.make_url("")).rstrip("/"), crm
        finally:
            await server.close()


async def test_given_csp_when_each_page_opened_then_no_violation(
    browser: Browser, served: tuple[str, Any]
) -> None:
    url, crm = served
    campaign = await crm.campaigns.create({"name": "csp"})
    customer, _ = await crm.customers.create(CustomerInput(name="csp", phones=["13800138000"]))
    session_id, _ = await crm.auth.login("root", PASSWORD)
    context = await browser.new_context()
    await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id, "url": url}])
    await context.add_init_script(WATCH)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text)
            if "Content Security Policy" in m.text else None)
    for path in ("/login", "/agent", "/console", f"/console/campaigns/{campaign.id}",
                 "/console/reports", "/console/experiments", "/console/models", "/admin",
                 "/wallboard", "/customers", f"/customers/{customer.id}"):
        response = await page.goto(f"{url}{path}")
        assert response is not None and response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        await page.wait_for_load_state("networkidle")
        assert await page.evaluate("typeof window.dialcrm") == "object", path  # common.js ran
        assert await page.evaluate("window.__csp") == [], path
    assert errors == []
