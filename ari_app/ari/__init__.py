"""Asyncio ARI adapter: REST client and the events WebSocket (see README, "Why not ari-py")."""

from ari_app.ari.client import AriClient, AriConfig
from ari_app.ari.events import AriEvent, AriEventStream, EventRouter, Reconnected

__all__ = ["AriClient", "AriConfig", "AriEvent", "AriEventStream", "EventRouter", "Reconnected"]
