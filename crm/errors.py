"""The CRM's error hierarchy.

Every error raised on purpose by the CRM derives from :class:`CrmError`. Errors carry a stable
machine id (``error_id``), a human message and optional ``details``; they carry no HTTP status.
The single mapper in :mod:`crm.http.errors_map` turns them into
``{"error": id, "message": ..., "details": ...}`` JSON with the right status code.

::

    CrmError
    ├── InvalidInputError            bad or missing field (details name the ``field``)
    │   └── InvalidPhoneNumberError  a number that does not parse / is not valid
    ├── NotFoundError                an entity id that does not exist (or was erased)
    ├── ConflictError                the request contradicts stored state
    │   ├── NumberConflictError      a phone number already belongs to another customer
    │   ├── AlreadyExistsError       a unique name/key is taken (user name, campaign, DNC entry…)
    │   └── LeadLockedError          the lead is locked by another dialer worker
    ├── GoneError                    existed, but no longer (a purged recording, an expired URL)
    ├── TooLargeError                a body over its route's limit (details name the limit)
    ├── AuthenticationError          no / bad / expired credentials
    ├── PermissionDeniedError        authenticated, but the role or ownership forbids it
    │   ├── NotCampaignMemberError   an agent logs into a campaign they are not a member of
    │   └── ExtensionNotBoundError   ... with an extension not bound to them
    └── TooManyAttemptsError         password checks throttled; ``retry_after`` seconds to wait

Third-party errors (SQLAlchemy, phonenumbers, …) are translated where they occur
(``raise InvalidPhoneNumberError(...) from None``) and never leak to callers.
"""

from __future__ import annotations

from typing import Any


class CrmError(Exception):
    """Base of every deliberate CRM error."""

    error_id = "crm_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": self.message, "details": self.details}


class InvalidInputError(CrmError):
    """A field is missing, malformed or out of range; ``details["field"]`` names it."""

    error_id = "invalid_input"

    def __init__(self, field: str, message: str, **extra: Any) -> None:
        super().__init__(message, details={"field": field, **extra})
        self.field = field


class InvalidPhoneNumberError(InvalidInputError):
    """A phone number could not be normalised to a valid E.164 number."""

    error_id = "invalid_phone_number"


class NotFoundError(CrmError):
    error_id = "not_found"

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(
            f"{entity} {entity_id} not found", details={"entity": entity, "id": str(entity_id)}
        )


class ConflictError(CrmError):
    error_id = "conflict"


class NumberConflictError(ConflictError):
    """The number(s) already belong to other customer(s); ``details["owners"]`` maps e164 → id."""

    error_id = "number_conflict"

    def __init__(self, owners: dict[str, str], field: str = "phones") -> None:
        super().__init__(
            "phone number already belongs to another customer",
            details={"field": field, "owners": owners},
        )
        self.owners = owners


class AlreadyExistsError(ConflictError):
    error_id = "already_exists"

    def __init__(self, entity: str, field: str, value: object) -> None:
        super().__init__(
            f"{entity} with {field}={value!s} already exists",
            details={"entity": entity, "field": field, "value": str(value)},
        )


class LeadLockedError(ConflictError):
    error_id = "lead_locked"


class GoneError(CrmError):
    """The thing existed but is gone for good (HTTP 410)."""

    error_id = "gone"


class TooLargeError(CrmError):
    """A request body (or a part of one) is over its limit; ``details["limit_bytes"]`` says it."""

    error_id = "too_large"

    def __init__(self, field: str, limit: int) -> None:
        super().__init__(f"{field} larger than {limit} bytes",
                         details={"field": field, "limit_bytes": limit})
        self.field = field
        self.limit = limit


class AuthenticationError(CrmError):
    error_id = "unauthenticated"


class PermissionDeniedError(CrmError):
    error_id = "forbidden"


class NotCampaignMemberError(PermissionDeniedError):
    """The caller is not a member of the campaign (nor its manager, nor an admin)."""

    error_id = "not_campaign_member"

    def __init__(self, campaign_id: object) -> None:
        super().__init__(f"not a member of campaign {campaign_id}",
                         details={"field": "campaign_id", "campaign_id": str(campaign_id)})


class ExtensionNotBoundError(PermissionDeniedError):
    """The SIP extension is not bound to the caller: bound to nobody (``reason="unbound"``) or
    to another user (``"bound_to_another_user"``; who is not said)."""

    error_id = "extension_not_bound"

    def __init__(self, extension: str, reason: str) -> None:
        super().__init__(f"extension {extension} is not bound to you",
                         details={"field": "extension", "extension": extension,
                                  "reason": reason})


class TooManyAttemptsError(CrmError):
    """Too many failed password checks (per account or per address): wait ``retry_after``
    seconds (HTTP 429 with ``Retry-After``)."""

    error_id = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins; try again in {retry_after} seconds",
            details={"retry_after": retry_after},
        )
        self.retry_after = retry_after
