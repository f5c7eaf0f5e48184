"""Typed views of the ARI resources the controller reads (channels, bridges, the Asterisk
system, our application), parsed from Asterisk's JSON here so that its field names stay
inside this package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MEDIA_CONNECTION_VAR = "MEDIA_WEBSOCKET_CONNECTION_ID"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A channel as ``GET /channels`` (or an originate, snoop, externalMedia) returns it."""

    id: str
    name: str = ""
    state: str = ""
    dialplan_app: str = ""  # the application it runs ("Stasis"), if any
    dialplan_app_data: str = ""  # Stasis: "<app>[,<args>]"
    variables: Mapping[str, str] = field(default_factory=dict)  # ``channelvars``

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChannelInfo:
        dialplan = data.get("dialplan") or {}
        variables = data.get("channelvars") or {}
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name") or ""),
            state=str(data.get("state") or ""),
            dialplan_app=str(dialplan.get("app_name") or ""),
            dialplan_app_data=str(dialplan.get("app_data") or ""),
            variables={str(k): str(v) for k, v in variables.items()}
            if isinstance(variables, Mapping) else {},
        )

    def in_app(self, app: str) -> bool:
        """The channel runs in Stasis ``app`` (``app_data`` is ``"<app>[,<args>]"``)."""
        return self.dialplan_app_data.split(",", 1)[0] == app

    @property
    def media_connection_id(self) -> str:
        """An ``externalMedia`` (chan_websocket) channel's media connection id (its channel
        id when Asterisk did not say)."""
        return self.variables.get(MEDIA_CONNECTION_VAR) or self.id


@dataclass(frozen=True, slots=True)
class BridgeInfo:
    """A bridge as ``GET /bridges`` returns it."""

    id: str
    channels: tuple[str, ...] = ()
    created: datetime | None = None  # ``creationtime``; None when absent or unreadable

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BridgeInfo:
        try:
            created: datetime | None = datetime.fromisoformat(str(data["creationtime"]))
        except (KeyError, ValueError):
            created = None
        return cls(id=str(data.get("id", "")),
                   channels=tuple(str(c) for c in data.get("channels") or ()), created=created)


@dataclass(frozen=True, slots=True)
class AsteriskInfo:
    """``GET /asterisk/info``: what we use of it."""

    startup_time: str = ""  # changes when Asterisk restarts
    version: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AsteriskInfo:
        status = data.get("status") or {}
        system = data.get("system") or {}
        version = system.get("version")
        return cls(startup_time=str(status.get("startup_time", "")),
                   version=str(version) if version is not None else None)


@dataclass(frozen=True, slots=True)
class ApplicationInfo:
    """``GET /applications/{app}``: the channels and bridges our Stasis app holds."""

    name: str
    channel_ids: tuple[str, ...] = ()
    bridge_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApplicationInfo:
        return cls(name=str(data.get("name", "")),
                   channel_ids=tuple(str(c) for c in data.get("channel_ids") or ()),
                   bridge_ids=tuple(str(b) for b in data.get("bridge_ids") or ()))
