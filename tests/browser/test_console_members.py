"""A campaign's members and their extensions on the console (issue 17 item 7), in headless
Chromium on a phone-sized screen, in Chinese: add members (with phones), a refused name and a
phone bound to someone else shown by their field, rebind a member's phones, remove a member."""

from __future__ import annotations

from playwright.async_api import Browser, Dialog, expect

from crm.domain.enums import Role
from tests.helpers.console_page import PASSWORD, Console, no_horizontal_overflow


async def test_given_manager_on_phone_when_managing_members_then_membership_and_extensions_kept(
    browser: Browser, console: Console,
) -> None:
    page = await console.page(browser, "boss", Role.MANAGER, width=390, locale="zh-CN")
    boss_id, _ = await console.crm.members.desk_user("boss")
    campaign = await console.crm.campaigns.create({"name": "成员管理", "manager_id": boss_id})
    for name in ("agent2001", "agent2002", "agent2003"):
        await console.crm.auth.create_user(name, Role.AGENT, password=PASSWORD)
    await console.crm.members.bind("agent2003", ["2009"], None)
    await page.goto(f"{console.url}/console/campaigns/{campaign.id}?lang=zh")
    await expect(page.get_by_test_id("no-members")).to_contain_text("还没有成员")

    await page.get_by_test_id("member-username").fill("agent2001")
    await page.get_by_test_id("member-extensions").fill("2001，2011")
    await page.get_by_test_id("member-add").click()
    await expect(page.get_by_test_id("member-status")).to_have_text("已添加: agent2001")
    row = page.locator('tr[data-member="agent2001"]')
    await expect(row.get_by_test_id("member-row-extensions")).to_have_value("2001, 2011")

    await page.get_by_test_id("member-username").fill("nobody")
    await page.get_by_test_id("member-add").click()
    await expect(page.get_by_test_id("err-member-username")).to_contain_text(
        "没有名为 nobody 的用户")
    await expect(page.get_by_test_id("member-username")).to_have_attribute("aria-invalid", "true")

    await page.get_by_test_id("member-username").fill("agent2002")
    await page.get_by_test_id("member-extensions").fill("2009")  # agent2003's phone
    await page.get_by_test_id("member-add").click()
    await expect(page.get_by_test_id("err-member-extensions")).to_contain_text(
        "2009 已绑定给其他用户")
    await expect(page.locator('tr[data-member="agent2002"]')).to_be_visible()  # added, no phone

    await row.get_by_test_id("member-row-extensions").fill("2001")
    await row.get_by_test_id("member-save").click()
    await expect(row.get_by_test_id("member-row-error")).to_have_text("已保存")
    agent2001, _ = await console.crm.members.desk_user("agent2001")
    assert await console.crm.members.extensions_of(agent2001) == ["2001"]

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await page.locator('tr[data-member="agent2002"]').get_by_test_id("member-remove").click()
    await expect(page.locator('tr[data-member="agent2002"]')).to_have_count(0)
    await expect(page.get_by_test_id("member-status")).to_have_text("已移除: agent2002")
    assert [m["username"] for m in await console.crm.members.in_campaign(campaign.id)] == [
        "agent2001"]
    await no_horizontal_overflow(page)
