"""chan_websocket media sockets: the audio of an ``externalMedia`` channel in server mode.

Asterisk keeps the channel waiting until the app connects to
``ws://<ari host>/media/<MEDIA_WEBSOCKET_CONNECTION_ID>``; then it sends one TEXT frame
``MEDIA_START ... format:slin16 optimal_frame_size:640 ptime:20`` and one BINARY frame per
20 ms of audio, and closes the socket (1000) when the channel is deleted. aiohttp stays in
here: callers get ``bytes`` (audio), ``str`` (control) or ``None`` (closed).
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from ari_app.ari.config import AriConfig
from ari_app.errors import AriUnavailable

log = logging.getLogger(__name__)


class MediaSocket:
    """One connected media WebSocket (receive side)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, connection_id: str) -> None:
        self._ws = ws
        self.connection_id = connection_id

    async def receive(self, timeout: float) -> bytes | str | None:
        """The next frame; ``None`` once the socket is closed. Raises ``TimeoutError``."""
        try:
            async with asyncio.timeout(timeout):
                msg = await self._ws.receive()
        except (aiohttp.ClientError, OSError) as exc:
            log.info("media socket %s: %s", self.connection_id, exc)
            return None
        if msg.type is aiohttp.WSMsgType.BINARY:
            return bytes(msg.data)
        if msg.type is aiohttp.WSMsgType.TEXT:
            return str(msg.data)
        return None  # CLOSE, CLOSING, CLOSED, ERROR

    async def close(self) -> None:
        try:
            async with asyncio.timeout(2.0):
                await self._ws.close()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.debug("media socket %s: close: %s", self.connection_id, exc)


async def open_media_socket(config: AriConfig, session: aiohttp.ClientSession,
                            connection_id: str, timeout: float = 5.0) -> MediaSocket:
    url = f"{config.ws_base}/media/{connection_id}"
    try:
        async with asyncio.timeout(timeout):
            ws = await session.ws_connect(url, protocols=("media",), autoping=True,
                                          max_msg_size=1 << 20)
    except TimeoutError:
        raise AriUnavailable(f"media socket {connection_id}: no answer in time") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise AriUnavailable(f"media socket {connection_id}: {exc}") from None
    return MediaSocket(ws, connection_id)
