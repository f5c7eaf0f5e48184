"""A thin asyncio client for the Asterisk REST Interface (REST half).

Every request has a timeout; aiohttp errors are mapped to :mod:`ari_app.errors`.
Asterisk's JSON stays inside this package: callers get typed resources
(:mod:`ari_app.ari.resources`), typed events (:mod:`ari_app.ari.events`) and use
ids they chose themselves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from ari_app.ari.config import AriConfig
from ari_app.ari.media import MediaSocket, open_media_socket
from ari_app.ari.resources import ApplicationInfo, AsteriskInfo, BridgeInfo, ChannelInfo
from ari_app.errors import AriNotFound, AriRequestFailed, AriUnavailable

log = logging.getLogger(__name__)

# A customer leg originated with ``note_hangup`` carries the ``dialer-ended`` hangup handler
# (asterisk-config/extensions.conf): at hang-up it sets the global variable
# DIALCRM_ENDED_<channel id> to Asterisk's time (epoch seconds, ms), read back when the call
# ended while the controller was not listening, and unset once the call is closed.
HANGUP_HANDLER = "CHANNEL(hangup_handler_push)"
HANGUP_NOTE = "dialer-ended,s,1"
HANGUP_VARIABLE = "DIALCRM_ENDED_"

Params = Mapping[str, str | int | float | bool | None]


def _clean(params: Params | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class AriClient:
    """REST calls to ARI. Use as ``async with AriClient(config) as ari:``."""

    def __init__(self, config: AriConfig, session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> AriClient:
        self.session  # noqa: B018 - create it now, inside the running loop
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self.config.auth_header)
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # ---------------------------------------------------------------- core --
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (or None for 204/empty)."""
        raw = await self._send(method, path, params, body, timeout)
        if not raw:
            return None
        return json.loads(raw)

    async def request_bytes(self, path: str, timeout: float | None = None) -> bytes:
        return await self._send("GET", path, None, None, timeout)

    async def _send(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> bytes:
        url = self.config.base + path
        try:
            async with asyncio.timeout(timeout or self.config.request_timeout):
                async with self.session.request(
                    method, url, params=_clean(params), json=body
                ) as resp:
                    data = await resp.read()
                    status = resp.status
        except TimeoutError:
            raise AriUnavailable(f"ARI {method} {path}: no answer in time") from None
        except aiohttp.ClientError as exc:
            raise AriUnavailable(f"ARI {method} {path}: {exc}") from None
        if status >= 400:
            message = _error_message(data)
            error = AriNotFound if status == 404 else AriRequestFailed
            raise error(method, path, status, message)
        log.debug("ARI %s %s -> %s", method, path, status)
        return data

    # ------------------------------------------------------------ channels --
    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str,
        app_args: str = "",
        caller_id: str | None = None,
        timeout_s: int = 30,
        formats: str | None = None,
        variables: Mapping[str, str] | None = None,
        note_hangup: bool = False,
    ) -> ChannelInfo:
        """Originate into our Stasis app with a pre-chosen channel id. ``note_hangup``: the
        dialplan's hangup handler keeps the channel's hang-up time (:meth:`hangup_time`)."""
        params: dict[str, str | int | None] = {
            "endpoint": endpoint,
            "app": self.config.app,
            "appArgs": app_args,
            "channelId": channel_id,
            "callerId": caller_id,
            "timeout": timeout_s,
            "formats": formats,
        }
        noted = {HANGUP_HANDLER: HANGUP_NOTE} if note_hangup else {}
        body = {"variables": {"DIALCRM_APP": self.config.app, **noted, **(variables or {})}}
        return ChannelInfo.from_json(
            await self.request("POST", "/channels", params=params, body=body))

    async def subscribe_channel(self, channel_id: str) -> None:
        """Subscribe our app to a channel's events, so its ChannelDestroyed reaches us even
        after it leaves Stasis (an originate sent while the app was not registered, e.g.
        right after Asterisk restarted, carries no subscription)."""
        await self.request(
            "POST",
            f"/applications/{quote(self.config.app)}/subscription",
            params={"eventSource": f"channel:{channel_id}"},
        )

    async def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str = "s", priority: int = 1
    ) -> None:
        await self.request(
            "POST",
            f"/channels/{quote(channel_id)}/continue",
            params={"context": context, "extension": extension, "priority": priority},
        )

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{quote(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{quote(channel_id)}", params={"reason": reason})

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        """Music on hold (a ``musiconhold.conf`` class) to a channel."""
        await self.request("POST", f"/channels/{quote(channel_id)}/moh",
                           params={"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{quote(channel_id)}/moh")

    async def mute(self, channel_id: str, direction: str = "in") -> None:
        """Mute audio of a channel; ``in``: what its phone sends into Asterisk."""
        await self.request("POST", f"/channels/{quote(channel_id)}/mute",
                           params={"direction": direction})

    async def unmute(self, channel_id: str, direction: str = "in") -> None:
        await self.request("DELETE", f"/channels/{quote(channel_id)}/mute",
                           params={"direction": direction})

    async def get_channel(self, channel_id: str) -> ChannelInfo:
        return ChannelInfo.from_json(await self.request("GET", f"/channels/{quote(channel_id)}"))

    async def list_channels(self) -> list[ChannelInfo]:
        return [ChannelInfo.from_json(c) for c in await self.request("GET", "/channels") or ()]

    async def get_variable(self, channel_id: str, name: str) -> str:
        result = await self.request(
            "GET", f"/channels/{quote(channel_id)}/variable", params={"variable": name}
        )
        return str(result.get("value", ""))

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request(
            "POST", f"/channels/{quote(channel_id)}/variable",
            params={"variable": name, "value": value},
        )

    async def snoop(
        self, channel_id: str, *, snoop_id: str, spy: str = "in", whisper: str = "none",
        app_args: str = "",
    ) -> ChannelInfo:
        return ChannelInfo.from_json(await self.request(
            "POST",
            f"/channels/{quote(channel_id)}/snoop",
            params={"spy": spy, "whisper": whisper, "app": self.config.app,
                    "appArgs": app_args, "snoopId": snoop_id},
        ))

    async def external_media(
        self, *, channel_id: str, fmt: str = "slin16", transport: str = "websocket",
        connection_type: str = "server", encapsulation: str = "none", host: str | None = None,
    ) -> ChannelInfo:
        """The media channel; its :attr:`ChannelInfo.media_connection_id` is for
        :meth:`open_media`."""
        return ChannelInfo.from_json(await self.request(
            "POST",
            "/channels/externalMedia",
            params={"app": self.config.app, "channelId": channel_id, "format": fmt,
                    "transport": transport, "encapsulation": encapsulation,
                    "connection_type": connection_type, "external_host": host},
        ))

    async def open_media(self, connection_id: str, timeout: float | None = None) -> MediaSocket:
        """Connect to an ``externalMedia`` (chan_websocket, server mode) channel's audio."""
        return await open_media_socket(self.config, self.session, connection_id,
                                       timeout or self.config.request_timeout)

    # ------------------------------------------------------------- bridges --
    async def create_bridge(self, bridge_id: str, name: str = "", kind: str = "mixing") -> None:
        await self.request(
            "POST", f"/bridges/{quote(bridge_id)}", params={"type": kind, "name": name or None}
        )

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self.request(
            "POST", f"/bridges/{quote(bridge_id)}/addChannel", params={"channel": channel_id}
        )

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self.request(
            "POST", f"/bridges/{quote(bridge_id)}/removeChannel", params={"channel": channel_id}
        )

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{quote(bridge_id)}")

    async def list_bridges(self) -> list[BridgeInfo]:
        return [BridgeInfo.from_json(b) for b in await self.request("GET", "/bridges") or ()]

    # ------------------------------------------------------ media, records --
    async def play(self, target: str, target_id: str, media: str, playback_id: str) -> None:
        """Play ``media`` (e.g. ``sound:dialcrm/safe-harbour``) on a channel or bridge."""
        if target not in ("channels", "bridges"):
            raise ValueError(f"target must be channels or bridges, not {target!r}")
        await self.request(
            "POST",
            f"/{target}/{quote(target_id)}/play/{quote(playback_id)}",
            params={"media": media},
        )

    async def record_bridge(self, bridge_id: str, name: str, fmt: str = "wav") -> None:
        await self.request(
            "POST",
            f"/bridges/{quote(bridge_id)}/record",
            params={"name": name, "format": fmt, "ifExists": "overwrite"},
        )

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{quote(name)}/stop")

    async def stored_recording(self, name: str) -> bytes:
        return await self.request_bytes(f"/recordings/stored/{quote(name)}/file", timeout=30)

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{quote(name)}")

    async def asterisk_info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self.request("GET", "/asterisk/info") or {})

    async def hangup_time(self, channel_id: str) -> float | None:
        """The hang-up time kept by the ``dialer-ended`` hangup handler (extensions.conf) in
        a global variable, if the channel was originated with ``note_hangup`` and has ended."""
        data = await self.request("GET", "/asterisk/variable",
                                  params={"variable": HANGUP_VARIABLE + channel_id})
        raw = str((data or {}).get("value") or "") if isinstance(data, dict) else ""
        try:
            return float(raw) if raw else None
        except ValueError:
            return None

    async def forget_hangup_time(self, channel_id: str) -> None:
        """Unset the kept hang-up time (a global variable without a value is deleted)."""
        await self.request("POST", "/asterisk/variable",
                           params={"variable": HANGUP_VARIABLE + channel_id})

    async def application(self) -> ApplicationInfo:
        """Our Stasis application: the channels and bridges it holds."""
        return ApplicationInfo.from_json(
            await self.request("GET", f"/applications/{quote(self.config.app)}") or {})


def _error_message(data: bytes) -> str:
    try:
        decoded = json.loads(data)
    except ValueError:
        return data.decode(errors="replace")[:300]
    if isinstance(decoded, dict):
        return str(decoded.get("message") or decoded.get("error") or decoded)
    return str(decoded)
