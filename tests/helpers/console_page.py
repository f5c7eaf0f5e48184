"""The console's browser tests: the whole app (``build_app``) served on the sandbox and a
signed-in manager's page (``Console``)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from playwright.async_api import Browser, Page

from ari_app.dialer.engine import Dialer
from crm.app import crm_service_of
from crm.domain.enums import Role
from crm.http.routing import SESSION_COOKIE
from crm.service import CrmService
from web.dialer.api import DIALER_KEY

PASSWORD = "console-pass-1"


@dataclass
class Console:
    url: str
    app: web.Application

    @property
    def crm(self) -> CrmService:
        return crm_service_of(self.app)

    @property
    def dialer(self) -> Dialer:
        return self.app[DIALER_KEY]

    async def page(self, browser: Browser, username: str, role: Role, *, width: int = 1200,
                   locale: str = "en-US") -> Page:
        await self.crm.auth.create_user(username, role, password=PASSWORD)
        session_id, _ = await self.crm.auth.login(username, PASSWORD)
        context = await browser.new_context(viewport={"width": width, "height": 900},
                                            locale=locale, accept_downloads=True)
        await context.add_cookies([{"name": SESSION_COOKIE, "value": session_id,
                                    "url": self.url}])
        return await context.new_page()


async def no_horizontal_overflow(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
