"""The agent page's browser tests: the whole app (``build_app``) served on the sandbox, its
agents and campaigns (``Desk``), and signing an agent in on the page."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from playwright.async_api import Page, expect

from ari_app.dialer.engine import Dialer
from crm.app import crm_service_of
from crm.domain.enums import Role
from crm.service import CrmService
from web.dialer.api import DIALER_KEY

PASSWORD = "agent-pass-1"
# A human who answers after 1 s and talks ~15 s (README, "The simulated PSTN").
CUSTOMER_NUMBER = "+8613800138090"
CUSTOMER_NAME = "王伟"


@dataclass
class Desk:
    url: str
    app: web.Application

    @property
    def crm(self) -> CrmService:
        return crm_service_of(self.app)

    @property
    def dialer(self) -> Dialer:
        return self.app[DIALER_KEY]

    async def agent(self, username: str, extension: str | None = None) -> uuid.UUID:
        """An agent user; with ``extension``, that phone is bound to them (their login's)."""
        user = await self.crm.auth.create_user(username, Role.AGENT, password=PASSWORD)
        if extension is not None:
            await self.crm.members.bind(username, [extension], None)
        return user.id

    async def campaign(self, name: str, numbers: list[str], members: Sequence[str] = ()) -> str:
        """A campaign of ``numbers``; ``members`` (usernames) may log into it."""
        campaign = await self.crm.campaigns.create(
            {"name": name, "max_attempts": 1, "window_start": "00:00", "window_end": "23:59"}
        )
        for username in members:
            await self.crm.members.add(campaign.id, username, None)
        rows = [{"phone": n, "name": CUSTOMER_NAME, "tags": "VIP"} for n in numbers]
        async for _ in self.crm.import_leads(campaign.id, rows):
            pass
        return str(campaign.id)


async def sign_in(page: Page, desk: Desk, username: str) -> None:
    await page.goto(f"{desk.url}/agent")
    await page.wait_for_url("**/login?next=/agent")
    await page.get_by_test_id("username").fill(username)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("login").click()
    await page.wait_for_url("**/agent")
    await expect(page.get_by_test_id("conn")).to_have_attribute("data-state", "live")
