"""``/console/models`` served by the console's page machinery (aiohttp test client, fakes for
the dialer, no Asterisk): who may open it, the nav link, both languages, every string the page's
script needs handed to it in the page's language. The page itself in Chromium:
``tests/browser/test_console_models.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from crm.http.routing import SESSION_COOKIE
from tests.helpers.web_apps import PASSWORD, console_app
from web.console.pages import MODEL_JS_KEYS
from web.i18n import STRINGS

BOOT = re.compile(r'<script id="boot" type="application/json">(.*?)</script>', re.S)


def _boot(html: str) -> dict:
    found = BOOT.search(html)
    assert found, "no boot data in the page"
    return json.loads(found.group(1))


def test_given_model_page_strings_when_listed_then_every_one_in_zh_and_en() -> None:
    keys = [k for k in STRINGS if k.startswith("mdl_")] + ["nav_models"]
    assert len(keys) > 40
    for key in keys:
        assert STRINGS[key]["zh"].strip() and STRINGS[key]["en"].strip(), key
    assert set(keys) - {"nav_models"} <= set(MODEL_JS_KEYS)
    assert {"route_senior", "route_standard", "route_nurture", "error"} <= set(MODEL_JS_KEYS)


async def test_given_roles_when_opening_models_page_then_login_403_or_page(tmp_path: Path
                                                                          ) -> None:
    async with console_app(tmp_path) as (app, crm, _, _tokens), \
            TestClient(TestServer(app)) as client:
        anonymous = await client.get("/console/models", allow_redirects=False)
        assert anonymous.status == 302
        assert anonymous.headers["Location"] == "/login?next=/console/models"

        agent, _ = await crm.auth.login("agent1", PASSWORD)
        refused = await client.get("/console/models", cookies={SESSION_COOKIE: agent},
                                   allow_redirects=False)
        assert refused.status == 403 and 'data-testid="forbidden"' in await refused.text()

        for who in ("boss", "root"):  # a manager and an admin
            session_id, _ = await crm.auth.login(who, PASSWORD)
            en = await client.get("/console/models?lang=en", cookies={SESSION_COOKIE: session_id})
            html = await en.text()
            assert en.status == 200 and en.headers["Cache-Control"] == "no-store"
            assert "<title>Models and lead routing" in html
            assert re.search(r'<a href="/console/models"[^>]*>Models &amp; routing</a>', html)
            assert 'src="/static/models.js"' in html
            boot = _boot(html)
            assert boot["lang"] == "en" and boot["username"] == who
            assert boot["strings"]["mdl_retrain"] == "Retrain now"
            assert set(boot["strings"]) == set(MODEL_JS_KEYS)

        zh = await client.get("/console/models?lang=zh", cookies={SESSION_COOKIE: session_id})
        html = await zh.text()
        assert "<title>模型与线索分配" in html and ">模型与分配</a>" in html
        assert "接通概率模型" in html and "坐席资历" in html
        boot = _boot(html)
        assert boot["lang"] == "zh" and boot["strings"]["mdl_retrain"] == "立即重新训练"
        assert boot["strings"]["route_senior"] == STRINGS["route_senior"]["zh"]

        script = await client.get("/static/models.js")
        assert script.status == 200 and "/api/agents/seniority" in await script.text()
