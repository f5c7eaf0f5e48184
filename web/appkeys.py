"""Typed keys of the objects the composition root puts on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.pbx_admin import PbxAdmin
from ari_app.settings import DialerSettings
from ari_app.telephony import Telephony

SETTINGS = web.AppKey("settings", DialerSettings)
TELEPHONY = web.AppKey("telephony", Telephony)
BUS = web.AppKey("bus", EventBus)
DIALER_KEY = web.AppKey("dialer", Dialer)
PBX_KEY = web.AppKey("pbx_admin", PbxAdmin)

__all__ = ["BUS", "DIALER_KEY", "PBX_KEY", "SETTINGS", "TELEPHONY"]
