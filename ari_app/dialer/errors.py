"""Errors of the dialer's use cases (no HTTP codes here; the HTTP edge maps them).

    DialerError (ari_app.errors)
    └── DialerUseCaseError
        ├── InvalidRequest          bad input; names the field
        ├── NotFound
        │   ├── AgentNotFound       no such logged-in agent
        │   ├── CampaignNotFound    no such campaign (or not loaded in the dialer)
        │   └── CallNotFound        no such call in flight
        ├── Conflict                the request is not possible in the current state
        └── AgentPhoneUnavailable   the agent's phone is not registered or did not answer
"""

from __future__ import annotations

from ari_app.errors import DialerError


class DialerUseCaseError(DialerError):
    code = "dialer_error"
    field: str | None = None


class InvalidRequest(DialerUseCaseError):
    code = "invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DialerUseCaseError):
    code = "not_found"


class AgentNotFound(NotFound):
    code = "agent_not_found"
    field = "agent_id"

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id!r} is not logged in")


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    field = "campaign_id"

    def __init__(self, campaign_id: str) -> None:
        super().__init__(f"campaign {campaign_id!r} does not exist")


class CallNotFound(NotFound):
    code = "call_not_found"
    field = "call_id"

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id!r} is not in progress")


class Conflict(DialerUseCaseError):
    code = "conflict"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AgentPhoneUnavailable(DialerUseCaseError):
    code = "agent_phone_unavailable"
    field = "extension"

    def __init__(self, extension: str, why: str, *, detail: str | None = None) -> None:
        super().__init__(f"agent phone {extension}: {why}")
        self.detail = detail  # what Asterisk said: for the log, never for the client
