"""Common random numbers: every lead's outcome, ring time and talk time come from a
per-(seed, day) stream that does not depend on the policy being simulated.

Lead ``i`` of day ``d`` under seed ``s`` always draws the same uniforms, whatever policy
dials it and whenever it is dialled; only the answer probability at the dial instant
(non-stationary profiles) differs with timing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np

from predictive.sim.lead_features import draw_features, intercept_for, logit_from_features
from predictive.sim.scenario import Scenario

CHUNK = 4096
class Outcome(IntEnum):
    """What an attempt ends in (as the simulator knows it)."""

    HUMAN = 0
    BUSY = 1
    MACHINE = 2
    NO_ANSWER = 3


@dataclass(frozen=True, slots=True)
class LeadFeatures:
    """Learnable attributes of a heterogeneous lead."""

    mobile: int
    region: int
    list_id: int
    attempts: int
    last_outcome: int
    lead_age_days: float
    hours_since_last: float


def profile_factor(s: Scenario, t: float) -> float:
    """Multiplier on answer probability at second ``t`` of the day (true world)."""
    if s.p_profile == "step":
        return 1.0 if t < s.step_at_s else s.step_factor
    if s.p_profile == "daily":
        return known_factor(s, t)
    return 1.0


def known_factor(s: Scenario, t: float) -> float:
    """The part of the profile a model can learn from the hour (the daily curve only)."""
    if s.p_profile == "daily":
        return 0.75 + 0.5 * math.sin(math.pi * t / s.day_s)
    return 1.0


def _ring_times(rng: np.random.Generator, s: Scenario, n: int) -> np.ndarray:
    weights = np.array([c[2] for c in s.ring_clusters], dtype=float)
    pick = rng.choice(len(s.ring_clusters), size=n, p=weights / weights.sum())
    lows = np.array([c[0] for c in s.ring_clusters])[pick]
    highs = np.array([c[1] for c in s.ring_clusters])[pick]
    return lows + np.floor(rng.random(n) * (highs - lows + 1)).astype(np.int64)


def talk_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with the given mean and coefficient of variation."""
    sigma2 = math.log(1.0 + cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


@dataclass(slots=True)
class LeadChunk:
    """Plain-list columns (fast scalar access in the event loop)."""

    u_out: list[float]
    ring: list[int]
    busy_t: list[int]
    talk: list[int]
    u_amd: list[float]
    machine_talk: list[int]
    p_base: list[float]
    p_model: list[float]  # what a learned model reports (p_info == "model")
    features: dict[str, np.ndarray] | None


class LeadBook:
    """The day's leads in hopper order, generated lazily in chunks from one stream."""

    def __init__(self, scenario: Scenario, seed: int, day: int) -> None:
        self._s = scenario
        self._rng = np.random.default_rng(np.random.SeedSequence([seed, day, 11]))
        self._chunks: list[LeadChunk] = []
        self.new_list_from: int | None = None
        mu, sigma = talk_params(scenario.talk_mean_s, scenario.talk_cv)
        self._mu, self._sigma = mu, sigma
        # AMD delays from a stream of their own: every other draw stays what it was
        self._amd_rng = np.random.default_rng(np.random.SeedSequence([seed, day, 13]))
        self._amd: list[int] = []

    def _grow(self) -> None:
        s, rng, n = self._s, self._rng, CHUNK
        u_out = rng.random(n)
        ring = _ring_times(rng, s, n)
        busy_t = rng.integers(s.busy_detect_s[0], s.busy_detect_s[1] + 1, n)
        talk = np.maximum(1, np.rint(rng.lognormal(self._mu, self._sigma, n))).astype(np.int64)
        u_amd = rng.random(n)
        mtalk = rng.integers(s.machine_talk_s[0], s.machine_talk_s[1] + 1, n)
        feats = draw_features(rng, n)
        if s.heterogeneous:
            z = logit_from_features(feats) + intercept_for(s.answer_rate)
            p_base = 1 / (1 + np.exp(-z))
        else:
            p_base = np.full(n, s.answer_rate)
        cap = 1.0 - s.busy_rate - s.machine_rate
        p_base = np.minimum(p_base, cap)
        p_model = p_base
        if s.heterogeneous and s.p_info == "model":
            from predictive.sim.lead_model import predict_p

            p_model = predict_p(s.answer_rate, feats)
        self._chunks.append(
            LeadChunk(
                u_out.tolist(), ring.tolist(), busy_t.tolist(), talk.tolist(),
                u_amd.tolist(), mtalk.tolist(), p_base.tolist(), p_model.tolist(),
                feats if s.heterogeneous else None,
            )
        )

    def chunk(self, lead: int) -> tuple[LeadChunk, int]:
        c, k = divmod(lead, CHUNK)
        while c >= len(self._chunks):
            self._grow()
        return self._chunks[c], k

    def amd_delay(self, lead: int) -> int:
        """Whole seconds AMD takes on lead ``lead``'s answer: uniform in the scenario's
        [lo, hi], rounded stochastically (the engine's clock is in whole seconds; the mean is
        kept)."""
        lo, hi = self._s.amd_delay_s
        while lead >= len(self._amd):
            x = lo + (hi - lo) * self._amd_rng.random(CHUNK)
            whole = np.floor(x + self._amd_rng.random(CHUNK)).astype(np.int64)
            self._amd.extend(whole.tolist())
        return self._amd[lead]

    def start_new_list(self, first_lead: int) -> None:
        """Leads from ``first_lead`` on come from the new list (list profiles only)."""
        self.new_list_from = first_lead

    def list_of(self, lead: int) -> int | None:
        """The list a lead comes from: 0 the old one, 1 the new one; None without lists."""
        s = self._s
        if not s.has_lists:
            return None
        start = self.new_list_from
        if start is None or lead < start:
            return 0
        return 1 if s.p_profile == "list_switch" or (lead - start) % 2 == 0 else 0

    def p_true(self, lead: int, t: float) -> float:
        ch, k = self.chunk(lead)
        s = self._s
        cap = 1.0 - s.busy_rate - s.machine_rate
        factor = s.step_factor if self.list_of(lead) == 1 else profile_factor(s, t)
        return min(ch.p_base[k] * factor, cap)

    def p_reported(self, lead: int, t: float) -> float:
        """What a calibrated model would report: per lead, or the pooled campaign rate."""
        s = self._s
        if s.p_info == "pooled" or not s.heterogeneous:
            return min(s.answer_rate * known_factor(s, t) * s.p_bias, 0.95)
        ch, k = self.chunk(lead)
        p = ch.p_model[k] if s.p_info == "model" else ch.p_base[k]
        return min(p * known_factor(s, t) * s.p_bias, 0.95)

    def outcome(self, lead: int, t: float) -> Outcome:
        s = self._s
        ch, k = self.chunk(lead)
        p = self.p_true(lead, t)
        u = ch.u_out[k]
        if u < p:
            return Outcome.HUMAN
        if u < p + s.busy_rate:
            return Outcome.BUSY
        if u < p + s.busy_rate + s.machine_rate:
            return Outcome.MACHINE
        return Outcome.NO_ANSWER

    def features(self, lead: int) -> LeadFeatures | None:
        ch, k = self.chunk(lead)
        if ch.features is None:
            return None
        f = ch.features
        return LeadFeatures(
            int(f["mobile"][k]), int(f["region"][k]), int(f["list_id"][k]),
            int(f["attempts"][k]), int(f["last_outcome"][k]),
            float(f["lead_age_days"][k]), float(f["hours_since_last"][k]),
        )


@dataclass(frozen=True, slots=True)
class AgentPlan:
    """When an agent logs in, pauses (start, length) and logs out, independent of policy."""

    login_s: int
    pauses: tuple[tuple[int, int], ...]
    logout_s: int


def agent_plans(s: Scenario, seed: int, day: int) -> tuple[AgentPlan, ...]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, day, 23]))
    plans = []
    lo, hi = 1800, max(1801, s.day_s - 1800 - s.pause_s)
    for _ in range(s.agents):
        login = int(rng.integers(0, s.login_stagger_s + 1))
        starts = sorted(int(x) for x in rng.integers(lo, hi, s.pauses_per_agent))
        plans.append(AgentPlan(login, tuple((st, s.pause_s) for st in starts), s.day_s))
    if s.early_logout_share > 0:  # own stream: other scenarios keep their draws
        out = np.random.default_rng(np.random.SeedSequence([seed, day, 29]))
        leave = out.random(s.agents) < s.early_logout_share
        when = out.integers(s.day_s // 2, s.day_s - 1800, s.agents)
        plans = [replace(p, logout_s=int(w)) if go else p
                 for p, go, w in zip(plans, leave, when, strict=True)]
    return tuple(plans)
