"""Throttling of password checks, per account and per client address, with exponential back-off.

Every password check (a login, the current password of a password change) first asks
:meth:`LoginThrottle.begin`. The attempt is counted as a failure *before* the password is
checked, so parallel attempts cannot all slip in before the first failure is recorded; a
success then takes it back (:meth:`LoginThrottle.succeeded`): the account's counter is reset,
the address's counter forgets that one attempt. Once a key (an account, an address) has
``free`` counted attempts, each further one locks it for ``base · 2^(n - free)`` seconds, at
most ``cap``; while locked every attempt is refused *without checking the password* (the right
password too: that is what a lock is), with :class:`TooManyAttemptsError` carrying the seconds
to wait (HTTP 429 + ``Retry-After``). A key with no attempt for ``forget`` is forgotten.

Unknown user names are throttled exactly like existing ones, so the throttle says nothing about
which accounts exist. Someone may lock a real user out by guessing wrong on their name; the
back-off is capped (``cap``) to bound that.

The state is in memory, for one CRM node: several nodes each keep their own (an attacker gets
``nodes ×`` the attempts). The scale-out (issue 16) moves it to the shared store.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.errors import TooManyAttemptsError
from crm.ports import Clock


@dataclass(frozen=True)
class ThrottlePolicy:
    account_free: int = 5  # failed attempts on one account before the back-off starts
    address_free: int = 20  # from one client address, over all accounts (a shared NAT…)
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=15)
    forget: timedelta = timedelta(hours=1)  # a key with no attempt for this long starts over
    max_keys: int = 100_000  # memory bound: the least recently used keys are dropped

    def lock_for(self, counted: int, free: int) -> timedelta | None:
        """How long a key with ``counted`` attempts is locked; None: not locked."""
        if counted < free:
            return None
        steps = min(counted - free, 32)
        return min(self.base * (2**steps), self.cap)


@dataclass
class _State:
    counted: int = 0
    last_at: datetime | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """One password check in flight: what :meth:`LoginThrottle.succeeded` takes back."""

    account: str
    address: str | None
    address_before: _State | None


class LoginThrottle:
    def __init__(self, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._clock = clock
        self.policy = policy or ThrottlePolicy()
        self._keys: OrderedDict[str, _State] = OrderedDict()

    def begin(self, account: str, address: str | None) -> Attempt:
        """Count an attempt on ``account`` from ``address`` (None: unknown), or refuse it."""
        now = self._clock.now()
        keys = [(f"user:{account}", self.policy.account_free)]
        if address:
            keys.append((f"addr:{address}", self.policy.address_free))
        states = [self._state(key, now) for key, _ in keys]
        waits = [s.locked_until - now for s in states if s.locked_until and s.locked_until > now]
        if waits:
            seconds = max(1, math.ceil(max(waits).total_seconds()))
            raise TooManyAttemptsError(seconds)
        before = _State(**vars(states[1])) if address else None
        for state, (_key, free) in zip(states, keys, strict=True):
            state.counted += 1
            state.last_at = now
            lock = self.policy.lock_for(state.counted, free)
            state.locked_until = now + lock if lock is not None else None
        self._trim()
        return Attempt(account=account, address=address, address_before=before)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account starts over, the address forgets this attempt."""
        self._keys.pop(f"user:{attempt.account}", None)
        if attempt.address and attempt.address_before is not None:
            state = self._keys.get(f"addr:{attempt.address}")
            if state is not None:
                state.counted = max(0, state.counted - 1)
                state.locked_until = attempt.address_before.locked_until

    def _state(self, key: str, now: datetime) -> _State:
        state = self._keys.get(key)
        if state is None or (state.last_at is not None and now - state.last_at > self.policy.forget
                             and not (state.locked_until and state.locked_until > now)):
            state = _State()
            self._keys[key] = state
        self._keys.move_to_end(key)
        return state

    def _trim(self) -> None:
        while len(self._keys) > self.policy.max_keys:
            self._keys.popitem(last=False)
