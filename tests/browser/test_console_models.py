"""The "Models & routing" page of the manager console (``/console/models``) in headless Chromium,
on the whole app (``build_app``, the real sandbox Asterisk; models stored under the test's own
directory): the answer model in its prior-only state, a retrain refused for thin history, then
call history seeded and "Retrain now" giving a trained version whose metrics and reliability
table are the API's; the conversion model trained the same way with its route shares; an agent
made senior (seen through ``GET /api/agents/seniority``) and a refused change shown and
reverted; the page in Chinese; an agent refused."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Locator, Page, expect
from sqlmodel import col

from ari_app.settings import DialerSettings
from crm.db.models_ops import User
from crm.domain.enums import Role
from crm.settings import CrmSettings
from crm.synth.answers import seed_history
from crm.synth.conversion import write_history
from predictive.models.answer_model import MIN_TRAIN_ROWS
from tests.conftest import ari_config_from_env
from tests.helpers.console_page import Console, no_horizontal_overflow
from web.main import build_app

TRAIN_TIMEOUT_MS = 120_000  # XGBoost on a shared 2-core machine


@pytest.fixture
async def models_console(asterisk: Any, tmp_path: Path) -> AsyncIterator[Console]:
    """The ``console`` fixture (tests/browser/conftest.py) with the models kept under
    ``tmp_path`` and the periodic retrain job off (only the page's button trains)."""
    settings = DialerSettings.load({"DIALCRM_DATA_DIR": str(tmp_path),
                                    "DIALCRM_ARI_APP": ari_config_from_env().app,
                                    "DIALCRM_ASR_START": "off"})
    crm = CrmSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/crm.sqlite3",
                      recordings_dir=tmp_path / "recordings", password_scrypt_n=16,
                      model_dir=tmp_path / "models", model_retrain_seconds=0)
    app = build_app(settings, crm)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield Console(str(server.make_url("/")).rstrip("/"), app)
    await server.close()


def js_fixed(x: float, digits: int) -> str:
    """``Number.prototype.toFixed``: the exact binary value rounded, ties away from zero."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def pct(x: float) -> str:
    return f"{js_fixed(x * 100, 1)}%"


async def api(page: Page, path: str) -> dict[str, Any]:
    resp = await page.request.get(f"{page.url.split('/console')[0]}{path}")
    assert resp.ok, (path, resp.status)
    return await resp.json()


async def retrain(page: Page, card: Locator, kind: str) -> dict[str, Any]:
    """Click the card's "Retrain now"; the API's reply (the page shows it once it has it)."""
    async with page.expect_response(f"**/api/models/{kind}/retrain",
                                    timeout=TRAIN_TIMEOUT_MS) as info:
        await card.get_by_test_id(f"{kind}-retrain").click()
    resp = await info.value
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def expect_metrics(card: Locator, kind: str, m: dict[str, Any]) -> None:
    """The card's metrics table and reliability table are the API's figures."""
    await expect(card.get_by_test_id(f"{kind}-brier")).to_have_text(js_fixed(m["brier"], 4))
    await expect(card.get_by_test_id(f"{kind}-brier-base")).to_have_text(
        js_fixed(m["brier_base_rate"], 4))
    await expect(card.get_by_test_id(f"{kind}-log_loss")).to_have_text(js_fixed(m["log_loss"], 4))
    b = m["base_rate"]  # the base rate's log-loss: the test set's rate predicted for every row
    await expect(card.get_by_test_id(f"{kind}-log_loss-base")).to_have_text(
        js_fixed(-(b * math.log(b) + (1 - b) * math.log(1 - b)), 4))
    await expect(card.get_by_test_id(f"{kind}-auc")).to_have_text(js_fixed(m["auc"], 3))
    await expect(card.get_by_test_id(f"{kind}-ece")).to_have_text(js_fixed(m["ece"], 4))
    await expect(card.get_by_test_id(f"{kind}-base_rate")).to_have_text(pct(m["base_rate"]))
    bins = card.get_by_test_id(f"{kind}-bin")
    await expect(bins).to_have_count(len(m["reliability"]))
    assert len(m["reliability"]) >= 2
    for i, b in enumerate(m["reliability"]):
        row = bins.nth(i)
        await expect(row.get_by_test_id("bin-n")).to_have_text(str(b["n"]))
        await expect(row.get_by_test_id("bin-predicted")).to_have_text(pct(b["mean_predicted"]))
        await expect(row.get_by_test_id("bin-observed")).to_have_text(pct(b["observed"]))


async def test_given_manager_when_retraining_models_and_setting_seniority_then_page_shows_api(
    browser: Browser, models_console: Console,
) -> None:
    console = models_console
    for name in ("mdl_a1", "mdl_a2"):
        await console.crm.auth.create_user(name, Role.AGENT, password=None)
    page = await console.page(browser, "mdl_boss", Role.MANAGER)
    await page.goto(f"{console.url}/console/models?lang=en")
    answer = page.get_by_test_id("answer-card")
    conversion = page.get_by_test_id("conversion-card")

    # --- no history: the prior alone, and a retrain that says why it did not train
    await expect(answer.get_by_test_id("answer-source")).to_have_text(
        f"prior only (0 history rows, fewer than {MIN_TRAIN_ROWS})")
    await expect(answer.get_by_test_id("answer-version")).to_have_text("not trained yet")
    await expect(answer.get_by_test_id("answer-no-reliability")).to_be_visible()
    await expect(conversion.get_by_test_id("conversion-version")).to_have_text("not trained yet")
    await expect(conversion.get_by_test_id("conversion-status")).to_contain_text(
        "no conversion model trained yet")
    run = await retrain(page, answer, "answer")
    assert run["result"] == f"too little history to train (0/{MIN_TRAIN_ROWS} rows)"
    await expect(answer.get_by_test_id("answer-msg")).to_have_text(run["result"])
    assert (await api(page, "/api/models/answer"))["versions"] == []

    # --- history seeded: "Retrain now" trains a version; the card is the API's
    history = await console.crm.campaigns.create({"name": "answer history"})
    rows = await seed_history(console.crm, history.id, first_index=1000)
    assert rows >= MIN_TRAIN_ROWS
    run = await retrain(page, answer, "answer")
    a = await api(page, "/api/models/answer")
    assert run["model"] == a and run["source"] == a["version"]
    assert a["source"] == "model" and a["rows"] == rows and len(a["versions"]) == 1
    assert 0 < a["brier"] < a["brier_base_rate"]  # the synthetic hour effect is learnt
    await expect(answer.get_by_test_id("answer-msg")).to_have_text(
        f"trained {a['version']} (forced)")
    await expect(answer.get_by_test_id("answer-version")).to_have_text(a["version"])
    await expect(answer.get_by_test_id("answer-source")).to_have_text("trained model")
    await expect(answer.get_by_test_id("answer-rows")).to_have_text(str(rows))
    await expect(answer.get_by_test_id("answer-split")).to_have_text(
        f"{a['n_train']} / {a['n_calibration']} / {a['n_test']}")
    await expect(answer.get_by_test_id("answer-trained-at")).not_to_have_text("–")
    await expect_metrics(answer, "answer", a)

    # --- the conversion model: customers with calls and sales seeded, retrained from the page
    await write_history(console.crm, datetime.now(UTC), n=700)
    run = await retrain(page, conversion, "conversion")
    c = await api(page, "/api/models/conversion")
    assert run["trained"] and run["version"] == c["version"] and c["status"] == "ok"
    assert c["customers_scored"] >= 700
    await expect(conversion.get_by_test_id("conversion-msg")).to_have_text(
        f"trained {c['version']} · {run['scored']} customers scored")
    await expect(conversion.get_by_test_id("conversion-version")).to_have_text(c["version"])
    await expect(conversion.get_by_test_id("conversion-scored")).to_have_text(
        str(c["customers_scored"]))
    for route, share in c["shares"].items():
        row = conversion.locator(f'[data-testid="route-row"][data-route="{route}"]')
        await expect(row.get_by_test_id("route-customers")).to_have_text(str(share["customers"]))
        await expect(row.get_by_test_id("route-share")).to_have_text(pct(share["share"]))
    senior_row = conversion.locator('[data-testid="route-row"][data-route="senior"]')
    await expect(senior_row.get_by_test_id("route-threshold")).to_have_text(
        f"P ≥ {js_fixed(c['thresholds']['senior_at'], 3)}")
    assert sum(s["customers"] for s in c["shares"].values()) == c["customers_scored"]
    await expect_metrics(conversion, "conversion", c["metrics"])

    # --- seniority: a toggle saved through the API; a refused one shown and reverted
    await expect(page.get_by_test_id("seniority-row")).to_have_count(3)  # 2 agents + manager
    a1 = page.get_by_test_id("senior-mdl_a1")
    await expect(a1).not_to_be_checked()
    await a1.click()
    await expect(page.get_by_test_id("seniority-msg")).to_have_text("Saved: mdl_a1 → senior")
    await expect(a1).to_be_checked()
    listed = {i["username"]: i["seniority"]
              for i in (await api(page, "/api/agents/seniority"))["items"]}
    assert listed == {"mdl_a1": "senior", "mdl_a2": "standard", "mdl_boss": "standard"}

    async with console.crm.engine.begin() as conn:  # mdl_a2 is no longer an agent
        await conn.execute(sa.update(User).where(col(User.username) == "mdl_a2")
                           .values(role=Role.ADMIN.value))
    a2 = page.get_by_test_id("senior-mdl_a2")
    await a2.click()
    msg = page.get_by_test_id("seniority-msg")
    await expect(msg).to_have_text("mdl_a2: agent mdl_a2 not found")
    await expect(msg).to_have_attribute("data-state", "error")
    await expect(a2).not_to_be_checked()
    assert await console.crm.agent_skills.seniority("mdl_a2") == "standard"

    # --- the same page in Chinese: the same figures, Chinese labels and messages
    await page.goto(f"{console.url}/console/models?lang=zh")
    await expect(page.locator("h2").first).to_have_text("接通概率模型")
    await expect(page.get_by_test_id("nav")).to_contain_text("模型与分配")
    await expect(answer.get_by_test_id("answer-version")).to_have_text(a["version"])
    await expect(answer.get_by_test_id("answer-source")).to_have_text("已训练的模型")
    await expect(answer.get_by_test_id("answer-last-run")).to_contain_text(  # said by the server
        f"已训练 {a['version']}")
    await expect_metrics(answer, "answer", a)
    await expect(conversion.get_by_test_id("conversion-version")).to_have_text(c["version"])
    await expect_metrics(conversion, "conversion", c["metrics"])
    await expect(page.get_by_test_id("senior-mdl_a1")).to_be_checked()
    await expect(page.get_by_test_id("seniority-row")).to_have_count(2)  # mdl_a2 is an admin now
    async with console.crm.engine.begin() as conn:  # … and mdl_a1 for a moment: refused, in zh
        await conn.execute(sa.update(User).where(col(User.username) == "mdl_a1")
                           .values(role=Role.ADMIN.value))
    await page.get_by_test_id("senior-mdl_a1").click()
    await expect(msg).to_have_text("mdl_a1: 坐席 mdl_a1 不存在（或已不是坐席/主管）")
    await expect(page.get_by_test_id("senior-mdl_a1")).to_be_checked()
    async with console.crm.engine.begin() as conn:
        await conn.execute(sa.update(User).where(col(User.username) == "mdl_a1")
                           .values(role=Role.AGENT.value))
    row = page.locator('[data-testid="seniority-row"][data-username="mdl_a1"]')
    await expect(row.get_by_test_id("seniority-value")).to_have_text("资深")
    await page.get_by_test_id("senior-mdl_a1").click()
    await expect(page.get_by_test_id("seniority-msg")).to_have_text("已保存：mdl_a1 → 普通")
    assert await console.crm.agent_skills.seniority("mdl_a1") == "standard"
    run = await retrain(page, conversion, "conversion")  # forced: a new version
    assert run["trained"] and run["version"] != c["version"]
    await expect(conversion.get_by_test_id("conversion-msg")).to_have_text(
        f"已训练 {run['version']} · 已为 {run['scored']} 位客户评分")
    await expect(conversion.get_by_test_id("conversion-version")).to_have_text(run["version"])

    # --- on a phone-sized screen: everything fits (the wide tables scroll in their box)
    phone = await console.page(browser, "mdl_boss2", Role.MANAGER, width=390)
    await phone.goto(f"{console.url}/console/models?lang=en")
    await expect(phone.get_by_test_id("answer-version")).to_have_text(a["version"])
    await expect(phone.get_by_test_id("conversion-bin")).not_to_have_count(0)
    await expect(phone.get_by_test_id("seniority-row")).to_have_count(3)  # + mdl_boss2
    await no_horizontal_overflow(phone)


async def test_given_agent_when_opening_models_page_then_refused(
    browser: Browser, models_console: Console,
) -> None:
    page = await models_console.page(browser, "mdl_agent", Role.AGENT)
    response = await page.goto(f"{models_console.url}/console/models")
    assert response is not None and response.status == 403
    await expect(page.get_by_test_id("forbidden")).to_be_visible()
    assert "answer-card" not in await page.content()
