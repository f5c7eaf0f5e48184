"""How to reach ARI, and which Stasis application we are (shared by the REST client, the
events socket and the media sockets)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

SANDBOX_ARI_PASSWORD = "dialcrm-sandbox-ari"  # asterisk-config/ari.conf: public, sandbox only


@dataclass(frozen=True)
class AriConfig:
    """How to reach ARI, and which Stasis application we are."""

    url: str = "http://127.0.0.1:8088"
    user: str = "dialcrm"
    password: str = SANDBOX_ARI_PASSWORD
    app: str = "dialcrm"
    request_timeout: float = 5.0

    @property
    def base(self) -> str:
        return self.url.rstrip("/") + "/ari"

    @property
    def auth_header(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def events_url(self) -> str:
        return f"{self.ws_base}/ari/events"

    @property
    def ws_base(self) -> str:
        """The base URL as a WebSocket URL (``ws://host:port``)."""
        return self.url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
