"""Errors of the dialer controller.

    DialerError                  base of everything raised by ari_app
    ├── TelephonyError           talking to Asterisk failed
    │   ├── AriUnavailable       ARI could not be reached / timed out
    │   ├── AriRequestFailed     ARI answered with an HTTP error (status, message)
    │   │   └── AriNotFound      404: the channel/bridge/recording is gone
    │   ├── AmiUnavailable       AMI could not be reached / timed out / login refused
    │   └── AmiActionFailed      AMI answered an action with Response: Error
    └── ConfigurationError       a setting is missing or malformed

Third-party exceptions (aiohttp, panoramisk) are mapped to these at the adapter
edge; nothing above the adapters sees them.
"""

from __future__ import annotations


class DialerError(Exception):
    """Base of every error raised by the dialer controller."""


class TelephonyError(DialerError):
    """Talking to Asterisk failed."""


class AriUnavailable(TelephonyError):
    """ARI could not be reached, or did not answer in time."""


class AriRequestFailed(TelephonyError):
    """ARI answered with an HTTP error."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"ARI {method} {path} -> {status}: {message}")
        self.method = method
        self.path = path
        self.status = status
        self.message = message


class AriNotFound(AriRequestFailed):
    """The object (channel, bridge, recording) does not exist (any more)."""


class AmiUnavailable(TelephonyError):
    """AMI could not be reached, refused the login, or did not answer in time."""


class AmiActionFailed(TelephonyError):
    """AMI answered an action with an error."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI {action} failed: {message}")
        self.action = action
        self.message = message


class ConfigurationError(DialerError):
    """A setting is missing or malformed; ``key`` names it when one setting is at fault."""

    def __init__(self, message: str, *, key: str = "") -> None:
        super().__init__(message)
        self.key = key
