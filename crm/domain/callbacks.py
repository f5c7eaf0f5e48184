"""Callbacks that belong to someone (issue 13 item 3), pure.

A callback set in wrap-up is *personal* (``owner`` = the agent's username: dialed only for that
agent, when they are ready, at or after the due time) or *campaign* (``owner`` None: anyone).
A personal callback whose owner is not logged in falls back to the campaign once its due time
plus the campaign's grace (``callback_grace_min``, default 30 min) has passed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class CallbackScope(StrEnum):
    PERSONAL = "personal"
    CAMPAIGN = "campaign"


@dataclass(frozen=True)
class ClaimFor:
    """Whom a hopper claim is for.

    ``owners`` empty: a general claim (any agent; predictive's pooled calls). Its personal
    callbacks are only those fallen back (owner not in ``present`` and the grace over).
    ``owners`` given: a claim of the personal callbacks of these (ready) agents only."""

    owners: tuple[str, ...] = ()
    present: tuple[str, ...] = ()  # the agents logged in to the campaign
    grace: timedelta = timedelta(minutes=30)


def fallen_back(owner: str | None, due: datetime | None, now: datetime,
                present: Collection[str], grace: timedelta) -> bool:
    """A personal callback the campaign may now dial: its owner is away past the grace."""
    if owner is None or owner in present:
        return False
    if due is not None and due.tzinfo is None and now.tzinfo is not None:
        due = due.replace(tzinfo=UTC)  # SQLite gives naive UTC
    return due is None or now >= due + grace


def claimable(owner: str | None, due: datetime | None, now: datetime, who: ClaimFor) -> bool:
    """May this claim take a (due, otherwise eligible) lead whose callback ``owner`` is this?"""
    if who.owners:
        return owner is not None and owner in who.owners
    return owner is None or fallen_back(owner, due, now, who.present, who.grace)


def callback_owner(scope: CallbackScope | str | None, agent: str | None) -> str | None:
    """The owner a wrap-up's callback gets: the agent for a personal one, else nobody."""
    if scope is None or CallbackScope(scope) is CallbackScope.CAMPAIGN or not agent:
        return None
    return agent
