"""Who may do what: the role policy as pure functions over a :class:`Principal`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from crm.domain.enums import Role
from crm.errors import PermissionDeniedError


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: UUID
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def sees_everything(self) -> bool:
        """Admins and the dialer machine account are not scoped by ownership."""
        return self.role in (Role.ADMIN, Role.DIALER)


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role is Role.ADMIN or principal.role in roles:
        return
    raise PermissionDeniedError(
        f"role {principal.role.value} may not do this",
        details={"role": principal.role.value, "allowed": [r.value for r in roles] + ["admin"]},
    )


def require_owner_or(principal: Principal, owner_id: UUID | None, *roles: Role) -> None:
    """Allow the owner of a record, or any of ``roles`` (admin always)."""
    if owner_id is not None and owner_id == principal.user_id:
        return
    require_role(principal, *roles)


class ManagedCampaign(Protocol):
    id: Any
    manager_id: UUID | None


def may_manage(principal: Principal, campaign: ManagedCampaign) -> None:
    """Admins manage every campaign; a manager only the campaigns they own."""
    if principal.is_admin or (
        principal.role is Role.MANAGER and campaign.manager_id == principal.user_id
    ):
        return
    raise PermissionDeniedError("not your campaign", details={"campaign_id": str(campaign.id)})
