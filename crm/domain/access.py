"""Who may do what: the role policy as pure functions over a :class:`Principal`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from crm.domain.enums import Role
from crm.errors import ExtensionNotBoundError, NotCampaignMemberError, PermissionDeniedError


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


# --- the access policy: who may see / change what (issue 17) -------------------------------
#
# Managers are scoped to the campaigns they manage (admins, and the dialer's machine account,
# see everything); agents to what they worked themselves: their calls, their tasks, and the
# customers of their own leads and calls, and to the campaigns they are members of (they dial
# only in those: :func:`may_join_campaign`, and only on the extensions bound to them:
# :func:`may_use_extension`). Membership does not widen an agent's customers: being a member
# of a campaign lets an agent take its calls, not browse its list; a customer becomes theirs
# through a lead given to them or a call they took. A record that belongs to no managed campaign (a
# manual call, a customer never dialled, a campaign without a manager) is shared by all
# managers; a customer no campaign and no call holds (created by hand) is shared by everyone
# who works customers. Objects one manager creates for everyone (experiments) change only
# by their owner.


@dataclass(frozen=True)
class Reach:
    """Who an object belongs to: the managers of its campaigns and the agents who worked it."""

    managers: frozenset[UUID] = frozenset()
    agents: frozenset[UUID] = frozenset()
    shared: bool = False  # tied to no managed campaign: every manager
    open: bool = False  # tied to nothing at all (a customer created by hand): agents too

    @classmethod
    def of(cls, managers: Any, agents: Any, *, campaign_less: bool = False) -> Reach:
        found = frozenset(m for m in managers if m is not None)
        return cls(found, frozenset(a for a in agents if a is not None),
                   shared=campaign_less or not found)


def sees(principal: Principal, reach: Reach, *, agents: bool = True) -> bool:
    """True when ``principal`` may see (and, for ``agents=False``, manage) the object."""
    if principal.sees_everything:
        return True
    if principal.role is Role.MANAGER and (
        reach.shared or principal.user_id in reach.managers or principal.user_id in reach.agents
    ):
        return True
    return agents and principal.role in (Role.AGENT, Role.MANAGER) and (
        reach.open or principal.user_id in reach.agents)


def _require(principal: Principal, reach: Reach, what: str, *, agents: bool = True) -> None:
    if not sees(principal, reach, agents=agents):
        raise PermissionDeniedError(f"not your {what}", details={"entity": what})


def may_see_campaign_data(principal: Principal, campaign: ManagedCampaign) -> None:
    """Read a campaign's records (a lead's best-time log): its manager; every manager when the
    campaign has none (changing the campaign itself is :func:`may_manage`)."""
    _require(principal, Reach.of([campaign.manager_id], []), "campaign", agents=False)


def may_see_call(principal: Principal, reach: Reach) -> None:
    """A call, its transcript, analysis and recording: its agent, its campaign's manager."""
    _require(principal, reach, "call")


def may_see_customer(principal: Principal, reach: Reach) -> None:
    """Read or edit a customer (details, numbers, notes, route): the agents of its leads and
    calls, the managers of its campaigns."""
    _require(principal, reach, "customer")


def may_manage_customer(principal: Principal, reach: Reach) -> None:
    """Merge, export, delete numbers, override the route: the managers of its campaigns."""
    _require(principal, reach, "customer", agents=False)


def may_see_task(principal: Principal, owner_id: UUID | None, reach: Reach) -> None:
    """A task: its owner; managers of its customer's campaigns."""
    if owner_id is not None and owner_id == principal.user_id:
        return
    _require(principal, reach, "task", agents=False)


def may_manage_agent(principal: Principal, reach: Reach) -> None:
    """Set an agent's seniority, watch their screen: managers of the campaigns they work."""
    _require(principal, reach, "agent", agents=False)


def may_change_owned(principal: Principal, owner_id: UUID | None, what: str) -> None:
    """An object a manager made (an experiment, a workflow rule, a call script): its owner, or
    an admin. No owner (made before owners were kept, or seeded): admins only."""
    if principal.is_admin or (principal.role is Role.MANAGER and owner_id == principal.user_id):
        return
    raise PermissionDeniedError(f"not your {what}", details={"entity": what})


def may_join_campaign(principal: Principal, campaign: ManagedCampaign, *, member: bool) -> None:
    """Log into a campaign's dialing (and read its side for agents): its members, its manager,
    admins. A campaign without members is closed to agents: nothing is open by default."""
    if principal.is_admin or member or (
        principal.role is Role.MANAGER and campaign.manager_id == principal.user_id
    ):
        return
    raise NotCampaignMemberError(campaign.id)


def may_use_extension(principal: Principal, extension: str, bound_to: UUID | None) -> None:
    """Use a SIP extension (the phone the dialer calls at login): only the user it is bound to
    (admins too: a phone is a person's)."""
    if bound_to is not None and bound_to == principal.user_id:
        return
    raise ExtensionNotBoundError(extension,
                                 "unbound" if bound_to is None else "bound_to_another_user")


def may_add_script(principal: Principal, campaign: ManagedCampaign | None) -> None:
    """A call script shows in the pops of its campaign: its manager adds it (admins: any); a
    script of no campaign shows in every campaign's pops: admins only."""
    if campaign is not None:
        may_manage(principal, campaign)
        return
    if not principal.is_admin:
        raise PermissionDeniedError("only an admin adds a script for every campaign",
                                    details={"entity": "script", "field": "campaign_id"})
