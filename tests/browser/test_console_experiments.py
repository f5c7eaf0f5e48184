"""The experiments page of the manager console (``/console/experiments``) in headless Chromium,
on the whole app (``build_app``, the real sandbox Asterisk via the console fixture): a refused
key and a refused weight shown next to their fields (nothing written), an experiment created,
the per-variant report with its 95 % intervals matching the API's, the CSV download, stop; zh."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Dialog, expect

from crm.db.engine import make_sessionmaker
from crm.db.models import Call
from crm.domain.enums import Role
from tests.helpers.console_page import Console

AGENTS = ("exp_a1", "exp_a2", "exp_a3", "exp_a4")


async def test_given_manager_when_creating_reporting_and_stopping_experiment_then_page_follows(
    browser: Browser, console: Console,
) -> None:
    page = await console.page(browser, "boss", Role.MANAGER)
    await page.goto(f"{console.url}/console/experiments?lang=en")
    await expect(page.locator("#exp-rows")).to_contain_text("No experiment yet")
    await expect(page.get_by_test_id("variant-row")).to_have_count(2)

    await page.get_by_test_id("exp-key").fill("Bad Key!")
    await page.get_by_test_id("exp-name").fill("Pop on/off")
    await page.get_by_test_id("exp-create").click()
    await expect(page.locator('.fielderror[data-for="key"]')).to_contain_text("pattern")
    await expect(page.get_by_test_id("exp-key")).to_have_attribute("aria-invalid", "true")

    await page.get_by_test_id("exp-key").fill("pop-ab")
    await page.get_by_test_id("variant-weight-1").fill("0")
    await page.get_by_test_id("exp-create").click()
    await expect(page.locator('.fielderror[data-for="variants.1.weight"]')).to_contain_text(
        "greater than 0")
    await expect(page.locator('.fielderror[data-for="key"]')).to_have_text("")
    await expect(page.get_by_test_id("variant-weight-1")).to_have_attribute(
        "aria-invalid", "true")
    assert (await console.crm.experiments.list()).total == 0  # nothing half-written

    await page.get_by_test_id("variant-weight-1").fill("3")
    await page.get_by_test_id("exp-create").click()
    await expect(page.get_by_test_id("exp-msg")).to_have_text("Experiment created: pop-ab")
    row = page.locator('[data-testid="exp-row"][data-key="pop-ab"]')
    await expect(row.get_by_test_id("exp-row-status")).to_have_text("running")
    await expect(row.get_by_test_id("exp-row-variants")).to_have_text("on (1), off (3)")
    (exp,) = (await console.crm.experiments.list()).items
    assert (exp.feature, exp.unit) == ("pop", "agent")

    # four agents get their variant (recorded) and take calls; the talk time differs by agent
    now = datetime.now(UTC)
    async with make_sessionmaker(console.crm.engine).begin() as s:
        for n, name in enumerate(AGENTS):
            user = await console.crm.auth.create_user(name, Role.AGENT, password=None)
            await console.crm.experiments.variant_for("pop-ab", name)
            for i in range(3):
                s.add(Call(call_id=f"x{n}-{i}", state="ended", agent_id=user.id,
                           originated_at=now, answered_at=now, bridged_at=now,
                           ended_at=now + timedelta(seconds=60), outcome="answered",
                           talk_seconds=30.0 + 10 * n + i,
                           disposition="sale" if i == 0 else "not_interested"))
    expected = (await console.crm.experiments.report(exp.id)).json()

    await row.get_by_test_id("exp-show-report").click()
    report = page.get_by_test_id("exp-report")
    await expect(report).to_be_visible()
    variants = report.get_by_test_id("rep-variant")
    await expect(variants).to_have_count(2)
    for v in expected["variants"]:
        line = report.locator(f'[data-variant="{v["variant"]}"]')
        await expect(line.get_by_test_id("rep-calls")).to_have_text(str(v["calls"]))
        await expect(line.get_by_test_id("rep-units")).to_have_text(
            f'{v["units_with_calls"]} / {v["units_assigned"]}')
        talk = v["talk_seconds_mean"]
        if talk["value"] is not None:
            text = f'{talk["value"]:.1f}'
            if talk["low"] is not None:
                text += f' [{talk["low"]:.1f}, {talk["high"]:.1f}]'
            await expect(line.get_by_test_id("rep-talk")).to_contain_text(text)
        conv = v["conversion_rate"]
        if conv["value"] is not None:
            await expect(line.get_by_test_id("rep-conversion")).to_contain_text(
                f'{conv["value"] * 100:.1f}% [{conv["low"] * 100:.1f}, {conv["high"] * 100:.1f}]')
        await expect(line.get_by_test_id("rep-abandon")).to_have_text("n/a")  # agent unit
    assert sum(v["calls"] for v in expected["variants"]) == 12
    await expect(report.get_by_test_id("exp-notes")).to_contain_text("abandon rate")

    async with page.expect_download() as info:
        await report.get_by_test_id("exp-csv").click()
    download = await info.value
    text = (await download.path()).read_bytes().decode("utf-8")  # noqa: ASYNC240
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == list(csv.reader(io.StringIO(
        (await console.crm.experiments.report(exp.id)).csv())))
    assert {r[1] for r in rows[1:]} == {"on", "off"} and len(rows) > 2

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await row.get_by_test_id("exp-stop").click()
    await expect(row.get_by_test_id("exp-row-status")).to_have_text("stopped")
    await expect(row.get_by_test_id("exp-stop")).to_have_count(0)
    assert (await console.crm.experiments.get(exp.id)).status == "stopped"

    await page.goto(f"{console.url}/console/experiments?lang=zh")
    await expect(page.locator("h2").first).to_have_text("A/B 实验")
    zh_row = page.locator('[data-testid="exp-row"][data-key="pop-ab"]')
    await expect(zh_row.get_by_test_id("exp-row-status")).to_have_text("已停止")
    await page.get_by_test_id("exp-key").fill("x")
    await page.get_by_test_id("exp-name").fill("话术")
    await page.get_by_test_id("exp-create").click()
    await expect(page.locator('.fielderror[data-for="key"]')).to_have_text("格式不正确")
    await zh_row.get_by_test_id("exp-show-report").click()  # the server's notes, in Chinese
    await expect(page.get_by_test_id("exp-notes")).to_contain_text(
        "按坐席分组时不报告放弃率：放弃的呼叫从未到达坐席")
    await expect(page.get_by_test_id("exp-notes")).to_contain_text(
        "同一单位的通话相互关联：单位较少时置信区间偏乐观")


async def test_given_agent_when_opening_experiments_page_then_refused(
    browser: Browser, console: Console,
) -> None:
    page = await console.page(browser, "agent9", Role.AGENT)
    response = await page.goto(f"{console.url}/console/experiments")
    assert response is not None and response.status == 403
