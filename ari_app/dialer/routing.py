"""Which ready agent takes which lead, by the lead's conversion route (pure, no I/O).

``senior`` leads go to a ready senior agent when one is ready, ``standard`` (and unscored)
leads prefer non-senior agents; in both cases, when no preferred agent is ready, whoever
is ready takes the lead: routing never leaves a customer waiting or abandoned. Within a
preference the longest-idle agent goes first (``ready`` is in that order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

SENIOR = "senior"


class _Agent(Protocol):
    @property
    def senior(self) -> bool: ...


class _Routed(Protocol):
    @property
    def route(self) -> str | None: ...


A = TypeVar("A", bound=_Agent)
L = TypeVar("L", bound=_Routed)


def wants_senior(route: str | None) -> bool:
    return route == SENIOR


def pick_agent(ready: Sequence[A], route: str | None) -> A | None:
    """The agent for one answered customer: a preferred one first, else the longest idle."""
    if not ready:
        return None
    senior = wants_senior(route)
    for agent in ready:
        if agent.senior == senior:
            return agent
    return ready[0]


def pair_leads(ready: Sequence[A], leads: Sequence[L]) -> list[tuple[A, L]]:
    """One lead per agent (progressive / preview): senior leads first to senior agents,
    the others preferably to non-senior agents; leads without a preferred agent free take
    the longest idle of the rest. Leads beyond the agents are not paired."""
    free = list(ready)
    pairs: list[tuple[A, L]] = []
    order = sorted(range(len(leads)), key=lambda i: not wants_senior(leads[i].route))
    for i in order[:len(free)]:
        lead = leads[i]
        agent = pick_agent(free, lead.route)
        if agent is None:
            break
        free.remove(agent)
        pairs.append((agent, lead))
    return pairs
