"""The manager console in headless Chromium, on the whole app (``build_app``) and the real
sandbox Asterisk: create a campaign, a refused value shown next to its field, the mode switched
while it runs, a CSV list imported with its per-row report, a report downloaded as CSV; an agent
refused; the pages on a phone-sized screen."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, expect

from ari_app.testing import wait_until
from crm.db.engine import make_sessionmaker
from crm.db.models import Call
from crm.domain.enums import Role
from tests.helpers.console_page import PASSWORD, Console, no_horizontal_overflow


async def test_given_manager_when_creating_and_editing_campaign_then_error_by_field_and_live_mode(
    browser: Browser, console: Console,
) -> None:
    page = await console.page(browser, "boss", Role.MANAGER)
    await page.goto(f"{console.url}/console?lang=en")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")
    await page.get_by_test_id("new-name").fill("Autumn")
    await page.get_by_test_id("new-timezone").fill("Mars/Olympus")
    await page.get_by_test_id("create").click()
    error = page.locator('.fielderror[data-for="timezone"]')
    await expect(error).to_contain_text("unknown time zone")
    await expect(page.get_by_test_id("new-timezone")).to_have_attribute("aria-invalid", "true")
    assert (await console.crm.campaigns.list()).total == 0  # nothing half-written

    await page.get_by_test_id("new-timezone").fill("Asia/Shanghai")
    await page.get_by_test_id("create").click()
    await page.wait_for_url("**/console/campaigns/*")
    campaign_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    await expect(page.get_by_test_id("campaign-name")).to_have_text("Autumn")

    await page.get_by_test_id("f-ring_timeout_s").fill("500")
    await page.get_by_test_id("f-caller_id").fill("4008001234")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("err-ring_timeout_s")).to_contain_text("120")
    await expect(page.get_by_test_id("save-result")).to_have_text(
        "Please fix the fields marked in red")
    saved = await console.crm.dialing.get(uuid.UUID(campaign_id))
    assert saved["dialing"]["caller_id"] == ""  # the whole change was refused

    await page.get_by_test_id("f-ring_timeout_s").fill("30")
    await page.get_by_test_id("f-retry_busy_minutes").fill("12")
    await page.get_by_test_id("f-abandon_window").select_option("24h")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("save-result")).to_have_text("Saved")
    await expect(page.get_by_test_id("err-ring_timeout_s")).to_have_text("")
    saved = await console.crm.dialing.get(uuid.UUID(campaign_id))
    assert saved["dialing"]["ring_timeout_s"] == 30
    assert saved["dialing"]["caller_id"] == "4008001234"
    assert saved["dialing"]["abandon_window"] == "24h"
    assert saved["campaign"]["retry_busy_minutes"] == 12

    await page.get_by_test_id("start").click()
    await expect(page.get_by_test_id("running")).to_have_attribute("data-state", "connected")
    assert console.dialer.config(campaign_id).ring_timeout_s == 30
    await page.get_by_test_id("mode-switch").select_option("predictive")
    await expect(page.get_by_test_id("live")).to_contain_text("predictive")
    async def predictive() -> bool:
        return console.dialer.config(campaign_id).mode.value == "predictive"
    await wait_until(predictive, 5, "the dialer in predictive mode")
    saved = await console.crm.dialing.get(uuid.UUID(campaign_id))
    assert saved["dialing"]["mode"] == "predictive"  # persisted: a restart keeps it

    await page.get_by_test_id("f-wrap_up_limit_s").fill("45")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("save-result")).to_have_text(
        "Saved and applied to the running campaign")
    assert console.dialer.config(campaign_id).wrap_up_limit_s == 45

    await page.goto(f"{console.url}/console")
    row = page.locator(f'tr[data-campaign="{campaign_id}"]')
    await expect(row.get_by_test_id("running")).to_have_attribute("data-state", "connected")
    await expect(row.get_by_test_id("mode")).to_have_text("predictive")

    await page.goto(f"{console.url}/console/campaigns/{campaign_id}")
    await page.get_by_test_id("pause").click()
    await expect(page.get_by_test_id("status")).to_have_attribute("data-state", "paused")
    await expect(page.get_by_test_id("running")).to_have_attribute("data-state", "none")
    assert campaign_id not in console.dialer.runners


CSV_TEXT = ("姓名,手机,标签\n"
            "张伟,13800138000,VIP\n"
            "李娜,13800138001,\n"
            "坏号,12345,\n"
            "张伟,13800138000,VIP\n")


async def test_given_csv_when_importing_from_page_then_per_row_report_and_penetration(
    browser: Browser, console: Console,
) -> None:
    page = await console.page(browser, "boss", Role.MANAGER, width=390, locale="zh-CN")
    boss = await console.crm.auth.principal_for_session(
        (await console.crm.auth.login("boss", PASSWORD))[0])
    campaign = await console.crm.campaigns.create({"name": "名单导入", "manager_id": boss.user_id})
    await page.goto(f"{console.url}/console/campaigns/{campaign.id}?lang=zh")
    await expect(page.get_by_test_id("pen-total")).to_have_text("0")
    await page.get_by_test_id("import-mapping").fill(
        '{"name": "姓名", "phone": "手机", "tags": "标签"}')
    await page.get_by_test_id("import-file").set_input_files(files=[{
        "name": "leads.csv", "mimeType": "text/csv", "buffer": CSV_TEXT.encode()}])
    await page.get_by_test_id("upload").click()
    report = page.get_by_test_id("import-report")
    await expect(report).to_be_visible()
    await expect(page.get_by_test_id("import-created")).to_have_text("新建: 2")
    await expect(page.get_by_test_id("import-rejected")).to_have_text("拒绝: 2")
    rejected = page.locator('#import-rows tr[data-status="rejected"]')
    await expect(rejected).to_have_count(2)
    await expect(rejected.first).to_contain_text("phone")
    await expect(page.get_by_test_id("pen-total")).to_have_text("2")
    await expect(page.get_by_test_id("pen-remaining")).to_have_text("2")
    assert (await console.crm.campaigns.list_leads(campaign_id=campaign.id)).total == 2
    await no_horizontal_overflow(page)

    await page.get_by_test_id("f-ring_timeout_s").fill("500")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("err-ring_timeout_s")).to_have_text("不能大于 120")
    await page.get_by_test_id("f-ring_timeout_s").fill("30")
    await page.get_by_test_id("f-window_end").fill("09:00")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("err-window_end")).to_have_text("拨打时段为空（开始 = 结束）")


async def test_given_calls_when_downloading_report_then_csv_matches_table(
    browser: Browser, console: Console,
) -> None:
    page = await console.page(browser, "chief", Role.ADMIN)
    campaign = await console.crm.campaigns.create({"name": "报表活动"})
    now = datetime.now(UTC) - timedelta(minutes=10)
    async with make_sessionmaker(console.crm.engine).begin() as s:
        for i, (outcome, disposition) in enumerate(
                [("answered", "sale"), ("answered", "not_interested"), ("abandoned", None)]):
            bridged = now if outcome == "answered" else None
            s.add(Call(call_id=f"r{i}", campaign_id=campaign.id, state="ended",
                       originated_at=now, answered_at=bridged, bridged_at=bridged,
                       ended_at=now + timedelta(seconds=40), outcome=outcome,
                       talk_seconds=30.0 if bridged else None, disposition=disposition))
    await page.goto(f"{console.url}/console/reports?lang=en")
    row = page.locator("#report-rows tr").first
    await expect(row.get_by_test_id("row-label")).to_have_text("报表活动")
    await expect(row.get_by_test_id("row-calls")).to_have_text("3")
    await expect(row.get_by_test_id("row-sales")).to_have_text("1")
    async with page.expect_download() as info:
        await page.get_by_test_id("download-csv").click()
    download = await info.value
    text = (await download.path()).read_bytes().decode("utf-8")  # noqa: ASYNC240
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["key", "label", "calls"]
    assert table[1][1:3] == ["报表活动", "3"]
    assert table[1][-1] == "not_interested:1;sale:1"

    await page.get_by_test_id("group").select_option("days")
    await page.get_by_test_id("from").fill("2026-03-31")
    await page.get_by_test_id("to").fill("2026-03-01")
    await page.get_by_test_id("show").click()
    await expect(page.locator('.fielderror[data-for="to"]')).to_contain_text("before")


async def test_given_agent_when_opening_console_then_refused(
    browser: Browser, console: Console,
) -> None:
    page = await console.page(browser, "agent1033", Role.AGENT)
    for path in ("/console", "/console/reports", "/admin"):
        response = await page.goto(f"{console.url}{path}?lang=en")
        assert response is not None and response.status == 403
        await expect(page.get_by_test_id("forbidden")).to_contain_text("You may not open this page")
    api = await page.request.get(f"{console.url}/api/console/campaigns")
    assert api.status == 403
