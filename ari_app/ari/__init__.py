"""Asyncio ARI adapter: REST client and the events WebSocket (see README, "Why not ari-py")."""

from ari_app.ari.client import AriClient
from ari_app.ari.config import AriConfig
from ari_app.ari.events import AriEvent, AriEventStream, EventRouter, Reconnected
from ari_app.ari.resources import ApplicationInfo, AsteriskInfo, BridgeInfo, ChannelInfo

__all__ = ["AriClient", "AriConfig", "AriEvent", "AriEventStream", "EventRouter", "Reconnected",
           "ApplicationInfo", "AsteriskInfo", "BridgeInfo", "ChannelInfo"]
