"""Answer rates per lead list, over a long and a short window (issue 18 item 2).

A campaign's leads come from lists (an import, a purchased file, a recycled segment) that
answer differently, and the answer model may know nothing of a list that arrived today. For
every list the dialer names (``AttemptEnded.list_id``) :class:`ListRates` keeps

* a **long window**: observed live answers / the sum of the model's p over the list's last few
  hundred attempts (decayed by attempts), shrunk towards a *conservative* rate: ``prior_weight``
  pseudo-attempts that answered at ``new_list_p``, so a list seen a few times is charged more
  than the model says, never less, until its own answers say otherwise;
* a **short window** (the list's last ten-odd attempts: a minute or two of dialling for a
  small team, less for a large one): the one-sided lower confidence bound (``z`` standard
  deviations of a Poisson count) of observed / predicted. When a list answers far better than
  predicted (0.9 where the model says 0.3) the bound passes the long window's ratio within a
  few answers, so the jump is charged at once; at a steady rate the bound sits below the long
  ratio and changes nothing.

The scale of a list is the larger of the two; ``decide`` multiplies each lead's model p by its
list's scale. A list never observed is charged ``max(model p x campaign scale, new_list_p)``.
Leads with no list (``list_id`` None) keep the campaign-wide scale (``Estimates.p_scale``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

ListId = Hashable


@dataclass(frozen=True, slots=True)
class ListRatesConfig:
    half_life: float = 300.0  # attempts of the list (long window)
    short_half_life: float = 10.0  # attempts of the list (short window)
    z: float = 1.0  # the short window's lower confidence bound, in standard deviations
    new_list_p: float = 0.8  # the conservative rate a list starts from
    prior_weight: float = 4.0  # ... weighing as this many attempts
    max_lists: int = 64  # the lists least recently seen are forgotten beyond this


class _ListRate:
    __slots__ = ("obs", "pred", "weight", "s_obs", "s_pred", "at", "attempts")

    def __init__(self, now: float) -> None:
        self.obs = self.pred = self.weight = self.s_obs = self.s_pred = 0.0
        self.at, self.attempts = now, 0

    def add(self, live: bool, p: float, now: float, cfg: ListRatesConfig) -> None:
        d = 0.5 ** (1.0 / cfg.half_life)
        self.obs, self.pred = d * self.obs + live, d * self.pred + p
        self.weight = d * self.weight + 1.0
        ds = 0.5 ** (1.0 / cfg.short_half_life)
        self.s_obs, self.s_pred = ds * self.s_obs + live, ds * self.s_pred + p
        self.at = max(self.at, now)
        self.attempts += 1

    def scale(self, cfg: ListRatesConfig) -> float:
        p_mean = self.pred / self.weight if self.weight else 0.0
        k = cfg.prior_weight
        long = (self.obs + k * cfg.new_list_p) / max(self.pred + k * p_mean, 1e-9)
        if self.s_pred <= 0.0:
            return long
        short = (self.s_obs - cfg.z * math.sqrt(self.s_obs)) / self.s_pred
        return max(long, short)


class ListRates:
    """Feed with each attempt's (list, live?, model p, time); read :meth:`scales`."""

    def __init__(self, config: ListRatesConfig | None = None) -> None:
        self.cfg = config or ListRatesConfig()
        self._lists: dict[ListId, _ListRate] = {}

    def observe(self, list_id: ListId, live: bool, p_answer: float, now: float) -> None:
        rate = self._lists.get(list_id)
        if rate is None:
            if len(self._lists) >= self.cfg.max_lists:
                del self._lists[min(self._lists, key=lambda k: self._lists[k].at)]
            rate = self._lists[list_id] = _ListRate(now)
        rate.add(live, p_answer, now, self.cfg)

    def scales(self) -> dict[ListId, float]:
        """Each observed list's scale on the model's p (module docstring)."""
        return {k: r.scale(self.cfg) for k, r in self._lists.items()}

    def attempts(self, list_id: ListId) -> int:
        rate = self._lists.get(list_id)
        return rate.attempts if rate else 0
