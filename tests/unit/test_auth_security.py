"""The login holds (issue 17 items 8 and 9): throttled password checks with back-off, the same
scrypt for unknown users, the current password to change one's own, API tokens that expire,
are revoked by a password change, record their last use, and that their owner lists and
revokes. The clock is the CRM's (``crm_clock``): nothing sleeps."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from crm.db.models_ops import AuditLog
from crm.domain.enums import Role
from crm.ports import FixedClock
from crm.services.login_throttle import LoginThrottle, ThrottlePolicy
from crm.testing import ACTOR_PASSWORD, CRM_T0

LOGIN = "/api/auth/login"
WRONG = "wrong-password-0"


async def _login(client: Any, username: str, password: str, **headers: str) -> Any:
    return await client.post(
        LOGIN, json={"username": username, "password": password}, headers=headers
    )


# -- throttling ------------------------------------------------------------------------------
async def test_given_50_wrong_passwords_when_the_right_one_follows_then_429_while_locked(
    crm_client, crm_actors, crm_clock: FixedClock
):
    statuses = [(await _login(crm_client, "agent", WRONG)).status for _ in range(50)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}

    right = await _login(crm_client, "agent", ACTOR_PASSWORD)
    body = await right.json()
    assert right.status == 429 and body["error"] == "too_many_attempts"
    wait = int(right.headers["Retry-After"])
    assert wait >= 1 and body["details"]["retry_after"] == wait
    assert f"try again in {wait} seconds" in body["message"]
    assert "dialcrm_session" not in right.cookies

    crm_clock.advance(timedelta(seconds=wait))
    assert (await _login(crm_client, "agent", ACTOR_PASSWORD)).status == 200


async def test_given_a_lock_when_guessing_wrong_after_it_expires_then_the_lock_doubles(
    crm_client, crm_actors, crm_clock: FixedClock
):
    for _ in range(5):
        await _login(crm_client, "manager", WRONG)
    waits = []
    for _ in range(4):
        locked = await _login(crm_client, "manager", WRONG)
        assert locked.status == 429
        waits.append(int(locked.headers["Retry-After"]))
        crm_clock.advance(timedelta(seconds=waits[-1]))
        assert (await _login(crm_client, "manager", WRONG)).status == 401
    assert waits == [1, 2, 4, 8]


async def test_given_failed_logins_when_the_right_password_comes_then_the_account_starts_over(
    crm_client, crm_actors
):
    for _ in range(4):
        assert (await _login(crm_client, "agent", WRONG)).status == 401
    assert (await _login(crm_client, "agent", ACTOR_PASSWORD)).status == 200
    for _ in range(4):
        assert (await _login(crm_client, "agent", WRONG)).status == 401


async def test_given_one_address_guessing_many_accounts_when_logging_in_then_429_for_all(
    crm_client, crm_actors
):
    for i in range(20):  # 4 tries on each of 5 names: no account reaches its limit
        assert (await _login(crm_client, f"nobody{i % 5}", WRONG)).status == 401
    assert (await _login(crm_client, "agent2", ACTOR_PASSWORD)).status == 429


async def test_given_a_chinese_client_when_throttled_then_the_429_says_so_in_chinese(
    crm_client, crm_actors
):
    for _ in range(6):
        locked = await _login(crm_client, "agent", WRONG, **{"Accept-Language": "zh-CN"})
    body = await locked.json()
    assert locked.status == 429 and body["error"] == "too_many_attempts"
    assert body["message"].startswith("登录失败次数过多") and locked.headers["Retry-After"]


def test_given_a_locked_address_when_another_address_tries_then_it_is_not_throttled():
    clock = FixedClock(CRM_T0)
    throttle = LoginThrottle(clock, ThrottlePolicy(account_free=100, address_free=3))
    for i in range(3):
        throttle.begin(f"user{i}", "10.0.0.1")
    with pytest.raises(Exception, match="too many failed logins"):
        throttle.begin("user9", "10.0.0.1")
    throttle.begin("user9", "10.0.0.2")  # not raised
    clock.advance(timedelta(seconds=1))
    throttle.begin("user9", "10.0.0.1")


def test_given_parallel_attempts_when_none_has_failed_yet_then_they_still_count():
    """Attempts are counted before the password is checked: a burst in flight cannot all
    get a check in before the first failure is recorded."""
    throttle = LoginThrottle(FixedClock(CRM_T0), ThrottlePolicy(account_free=5))
    in_flight = [throttle.begin("agent", None) for _ in range(5)]
    with pytest.raises(Exception, match="too many failed logins"):
        throttle.begin("agent", None)
    throttle.succeeded(in_flight[0])
    throttle.begin("agent", None)  # the account started over


# -- the same scrypt for unknown users -------------------------------------------------------
@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, int]]:
    calls: list[tuple[bytes, int]] = []
    real = hashlib.scrypt

    def spy(password: bytes, **kw: Any) -> bytes:
        calls.append((password, kw["n"]))
        return real(password, **kw)

    monkeypatch.setattr(hashlib, "scrypt", spy)
    return calls


@pytest.mark.parametrize("who", ["nobody-at-all", "agent", "inactive"])
async def test_given_unknown_or_inactive_user_when_logging_in_then_scrypt_runs_as_for_a_real_one(
    crm_client, crm_actors, crm_service, crm_settings, scrypt_calls, who
):
    user = await crm_service.auth.create_user("inactive", crm_actors["agent"].role,
                                              password=ACTOR_PASSWORD)
    await crm_service.auth.update_user(user.id, active=False)
    scrypt_calls.clear()
    guess = f"guess-for-{who}".encode()
    assert (await _login(crm_client, who, guess.decode())).status == 401
    assert (guess, crm_settings.password_scrypt_n) in scrypt_calls


# -- the current password --------------------------------------------------------------------
async def test_given_own_password_change_when_current_password_missing_or_wrong_then_400(
    crm_client, crm_actors
):
    agent = crm_actors["agent"]
    url = f"/api/users/{agent.user_id}"
    missing = await crm_client.patch(url, json={"password": "new-password-1"},
                                     headers=agent.headers)
    assert missing.status == 400
    assert (await missing.json())["details"]["field"] == "current_password"
    wrong = await crm_client.patch(
        url, json={"password": "new-password-1", "current_password": WRONG}, headers=agent.headers
    )
    assert wrong.status == 400
    assert (await wrong.json())["message"] == "the current password is wrong"
    assert (await _login(crm_client, "agent", ACTOR_PASSWORD)).status == 200
    right = await crm_client.patch(
        url, json={"password": "new-password-1", "current_password": ACTOR_PASSWORD},
        headers=agent.headers,
    )
    assert right.status == 200
    assert (await _login(crm_client, "agent", "new-password-1")).status == 200


async def test_given_guesses_of_the_current_password_when_many_then_throttled(
    crm_client, crm_actors
):
    agent = crm_actors["agent"]
    url = f"/api/users/{agent.user_id}"
    statuses = [
        (await crm_client.patch(url, json={"password": "new-password-1",
                                           "current_password": f"{WRONG}{i}"},
                                headers=agent.headers)).status
        for i in range(6)
    ]
    assert statuses == [400] * 5 + [429]


async def test_given_admin_when_resetting_another_users_password_then_no_current_and_audited(
    crm_client, crm_actors, crm_service
):
    agent = crm_actors["agent"]
    reset = await crm_client.patch(
        f"/api/users/{agent.user_id}", json={"password": "reset-password-1"},
        headers=crm_actors["admin"].headers,
    )
    assert reset.status == 200
    assert (await _login(crm_client, "agent", "reset-password-1")).status == 200
    async with crm_service.engine.connect() as conn:
        entry = (await conn.execute(
            sa.select(AuditLog).where(col(AuditLog.action) == "user.updated",
                                      col(AuditLog.entity_id) == str(agent.user_id))
        )).one()
    assert entry.actor_id == crm_actors["admin"].user_id
    assert entry.details["password_changed"] and entry.details["by_other"]


# -- API tokens ------------------------------------------------------------------------------
async def _issue(client: Any, actor: Any, **body: Any) -> dict[str, Any]:
    resp = await client.post(f"/api/users/{actor.user_id}/tokens", json={"name": "t", **body},
                             headers=actor.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


def _bearer(issued: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issued['token']}"}


async def test_given_a_token_when_its_lifetime_passes_then_401(
    crm_client, crm_actors, crm_clock: FixedClock
):
    default = await _issue(crm_client, crm_actors["agent"])
    short = await _issue(crm_client, crm_actors["agent"], expires_in_days=1)
    assert default["expires_at"] == "2026-05-31T03:00:00Z"  # CRM_T0 + 90 days
    crm_clock.advance(timedelta(hours=23))
    assert (await crm_client.get("/api/auth/me", headers=_bearer(short))).status == 200
    crm_clock.advance(timedelta(hours=1))
    expired = await crm_client.get("/api/auth/me", headers=_bearer(short))
    assert expired.status == 401
    assert (await expired.json())["message"] == "invalid, expired or revoked token"
    assert (await crm_client.get("/api/auth/me", headers=_bearer(default))).status == 200
    crm_clock.advance(timedelta(days=89))
    assert (await crm_client.get("/api/auth/me", headers=_bearer(default))).status == 401


async def test_given_expires_in_days_out_of_range_when_issuing_then_400(crm_client, crm_actors):
    agent = crm_actors["agent"]
    for days in (0, 3651):
        resp = await crm_client.post(f"/api/users/{agent.user_id}/tokens",
                                     json={"expires_in_days": days}, headers=agent.headers)
        assert resp.status == 400


@pytest.mark.parametrize("by", ["self", "admin"])
async def test_given_tokens_when_the_password_changes_then_they_are_revoked(
    crm_client, crm_actors, by
):
    agent = crm_actors["agent"]
    spare = await _issue(crm_client, agent)
    body: dict[str, Any] = {"password": "new-password-1"}
    if by == "self":
        body["current_password"] = ACTOR_PASSWORD
    actor = agent if by == "self" else crm_actors["admin"]
    resp = await crm_client.patch(f"/api/users/{agent.user_id}", json=body, headers=actor.headers)
    assert resp.status == 200
    for headers in (agent.headers, _bearer(spare)):
        assert (await crm_client.get("/api/auth/me", headers=headers)).status == 401
    other = crm_actors["agent2"].headers
    assert (await crm_client.get("/api/auth/me", headers=other)).status == 200


async def test_given_a_busy_token_when_used_then_last_used_at_written_at_most_once_a_minute(
    crm_client, crm_actors, crm_clock: FixedClock
):
    agent = crm_actors["agent"]
    issued = await _issue(crm_client, agent)

    async def last_used() -> str | None:
        listed = await (await crm_client.get("/api/auth/tokens", headers=_bearer(issued))).json()
        return next(t["last_used_at"] for t in listed["items"] if t["id"] == issued["token_id"])

    assert await last_used() == "2026-03-02T03:00:00Z"  # CRM_T0: the listing request used it
    crm_clock.advance(timedelta(seconds=30))
    assert await last_used() == "2026-03-02T03:00:00Z"
    crm_clock.advance(timedelta(seconds=31))
    assert await last_used() == "2026-03-02T03:01:01Z"


async def test_given_users_with_tokens_when_listing_mine_then_only_mine_and_admin_sees_any(
    crm_client, crm_actors
):
    agent, agent2, admin = crm_actors["agent"], crm_actors["agent2"], crm_actors["admin"]
    mine = await _issue(crm_client, agent, expires_in_days=7)
    listed = await (await crm_client.get("/api/auth/tokens", headers=agent.headers)).json()
    assert {t["name"] for t in listed["items"]} == {"agent-token", "t"}
    assert listed["total"] == 2
    assert all(t["user_id"] == str(agent.user_id) for t in listed["items"])
    assert not any("token" in t or "token_hash" in t for t in listed["items"])
    item = next(t for t in listed["items"] if t["id"] == mine["token_id"])
    assert item["expires_at"] == mine["expires_at"] and item["revoked_at"] is None

    theirs = f"/api/auth/tokens?user_id={agent2.user_id}"
    assert (await crm_client.get(theirs, headers=agent.headers)).status == 403
    by_admin = await (await crm_client.get(theirs, headers=admin.headers)).json()
    assert [t["name"] for t in by_admin["items"]] == ["agent2-token"]


async def test_given_tokens_when_revoking_then_only_the_owner_or_an_admin_may(
    crm_client, crm_actors
):
    agent, agent2, admin = crm_actors["agent"], crm_actors["agent2"], crm_actors["admin"]
    mine = await _issue(crm_client, agent)
    theirs = await _issue(crm_client, agent2)
    url = "/api/auth/tokens/{}".format
    refused = await crm_client.delete(url(theirs["token_id"]), headers=agent.headers)
    assert refused.status == 403
    assert (await crm_client.get("/api/auth/me", headers=_bearer(theirs))).status == 200

    assert (await crm_client.delete(url(mine["token_id"]), headers=agent.headers)).status == 204
    assert (await crm_client.get("/api/auth/me", headers=_bearer(mine))).status == 401
    assert (await crm_client.get("/api/auth/me", headers=agent.headers)).status == 200
    listed = await (await crm_client.get("/api/auth/tokens", headers=agent.headers)).json()
    assert next(t for t in listed["items"] if t["id"] == mine["token_id"])["revoked_at"]

    assert (await crm_client.delete(url(theirs["token_id"]), headers=admin.headers)).status == 204
    assert (await crm_client.get("/api/auth/me", headers=_bearer(theirs))).status == 401
    missing = await crm_client.delete(url("00000000-0000-0000-0000-000000000000"),
                                      headers=agent.headers)
    assert missing.status == 404


async def test_given_the_openapi_document_when_read_then_token_routes_and_429_are_there(
    crm_client, crm_actors
):
    doc = await (await crm_client.get("/api/openapi.json")).json()
    assert doc["paths"]["/api/auth/tokens"]["get"]["x-roles"] == [
        "admin", "agent", "dialer", "manager"
    ]
    assert "delete" in doc["paths"]["/api/auth/tokens/{token_id}"]
    assert "429" in doc["paths"]["/api/auth/login"]["post"]["responses"]
    assert "429" not in doc["paths"]["/api/auth/me"]["get"]["responses"]
    patch = doc["components"]["schemas"]["UserPatch"]["properties"]
    assert "current_password" in patch


# -- the principal cache (issue 19): a few seconds per token, revocation honoured -----------------
class _Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_given_a_cached_token_when_revoked_or_the_password_changes_then_refused_at_once(
    crm_client, crm_actors, crm_service
):
    agent, admin = crm_actors["agent"], crm_actors["admin"]
    spare = await _issue(crm_client, agent)
    for headers in (agent.headers, _bearer(spare)):  # both cached now
        assert (await crm_client.get("/api/auth/me", headers=headers)).status == 200

    revoked = await crm_client.delete(f"/api/auth/tokens/{spare['token_id']}",
                                      headers=admin.headers)
    assert revoked.status in (200, 204)
    assert (await crm_client.get("/api/auth/me", headers=_bearer(spare))).status == 401
    assert (await crm_client.get("/api/auth/me", headers=agent.headers)).status == 200

    await crm_service.auth.update_user(agent.user_id, password="new-password-1",
                                       actor_id=admin.user_id)
    assert (await crm_client.get("/api/auth/me", headers=agent.headers)).status == 401


async def test_given_a_cached_token_when_revoked_by_another_process_then_refused_within_the_ttl(
    crm_client, crm_actors, crm_service
):
    """A change this process did not make (another worker, a script) is seen once the cached
    principal is older than ``principal_cache_s``."""
    ticks = _Monotonic()
    auth = crm_service.auth
    auth._monotonic = ticks  # noqa: SLF001 - the cache's own clock, moved by the test
    agent = crm_actors["agent"]
    assert (await crm_client.get("/api/auth/me", headers=agent.headers)).status == 200
    async with crm_service.engine.begin() as conn:  # not through the service: no invalidation
        await conn.execute(sa.text("UPDATE api_tokens SET revoked_at = expires_at"))

    ticks.now += auth.principal_cache_s / 2
    assert (await crm_client.get("/api/auth/me", headers=agent.headers)).status == 200  # cached
    ticks.now += auth.principal_cache_s / 2
    assert (await crm_client.get("/api/auth/me", headers=agent.headers)).status == 401


async def test_given_cached_principals_when_the_role_changes_then_the_new_role_at_once_and_per_user(
    crm_client, crm_actors, crm_service
):
    """Each token's own user, never another's; a role change is seen by the next request."""
    agent, other = crm_actors["agent"], crm_actors["agent2"]
    me = [await (await crm_client.get("/api/auth/me", headers=a.headers)).json()
          for a in (agent, other, agent)]
    assert [m["username"] for m in me] == ["agent", "agent2", "agent"]
    auth = crm_service.auth
    assert (await auth.principal_for_token(agent.token)).role is Role.AGENT  # cached
    await auth.update_user(agent.user_id, role=Role.MANAGER)
    assert (await auth.principal_for_token(agent.token)).role is Role.MANAGER
    assert (await auth.principal_for_token(other.token)).username == "agent2"
