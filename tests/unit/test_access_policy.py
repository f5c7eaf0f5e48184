"""The access policy (crm.domain.access), as pure functions over a principal and a Reach."""

from __future__ import annotations

import uuid

import pytest

from crm.domain.access import (
    Principal,
    Reach,
    may_change_owned,
    may_manage_agent,
    may_manage_customer,
    may_see_call,
    may_see_customer,
    may_see_task,
)
from crm.domain.enums import Role
from crm.errors import PermissionDeniedError


def who(role: Role) -> Principal:
    return Principal(uuid.uuid4(), role.value, role)


AGENT, OTHER_AGENT = who(Role.AGENT), who(Role.AGENT)
BOSS, OTHER_BOSS, ROOT = who(Role.MANAGER), who(Role.MANAGER), who(Role.ADMIN)
DIALER = who(Role.DIALER)
CALL = Reach.of([BOSS.user_id], [AGENT.user_id])


@pytest.mark.parametrize(("principal", "allowed"), [
    (AGENT, True), (OTHER_AGENT, False), (BOSS, True), (OTHER_BOSS, False), (ROOT, True),
    (DIALER, True),
])
def test_given_a_call_of_boss_campaign_then_its_agent_and_manager_see_it(
    principal: Principal, allowed: bool,
) -> None:
    if allowed:
        may_see_call(principal, CALL)
        may_see_customer(principal, CALL)
    else:
        with pytest.raises(PermissionDeniedError):
            may_see_call(principal, CALL)


def test_given_customer_management_then_managers_of_its_campaigns_only() -> None:
    may_manage_customer(BOSS, CALL)
    may_manage_customer(ROOT, CALL)
    for principal in (AGENT, OTHER_BOSS):
        with pytest.raises(PermissionDeniedError):
            may_manage_customer(principal, CALL)


def test_given_no_managed_campaign_then_shared_by_managers_and_open_only_when_untied() -> None:
    unmanaged = Reach.of([None], [AGENT.user_id])
    assert unmanaged.shared
    may_see_customer(OTHER_BOSS, unmanaged)
    with pytest.raises(PermissionDeniedError):
        may_see_customer(OTHER_AGENT, unmanaged)
    may_see_customer(OTHER_AGENT, Reach(shared=True, open=True))


def test_given_a_task_then_its_owner_and_the_customer_managers() -> None:
    may_see_task(OTHER_AGENT, OTHER_AGENT.user_id, CALL)
    may_see_task(BOSS, AGENT.user_id, CALL)
    for principal in (AGENT, OTHER_BOSS):
        with pytest.raises(PermissionDeniedError):
            may_see_task(principal, OTHER_AGENT.user_id, CALL)


def test_given_owned_object_or_agent_then_owner_or_their_campaign_manager() -> None:
    may_change_owned(BOSS, BOSS.user_id, "experiment")
    may_change_owned(ROOT, BOSS.user_id, "experiment")
    with pytest.raises(PermissionDeniedError, match="not your experiment"):
        may_change_owned(OTHER_BOSS, BOSS.user_id, "experiment")
    may_manage_agent(BOSS, CALL)
    with pytest.raises(PermissionDeniedError):
        may_manage_agent(OTHER_BOSS, CALL)
    with pytest.raises(PermissionDeniedError):
        may_manage_agent(AGENT, CALL)
