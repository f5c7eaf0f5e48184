"""Online estimators the dialer feeds with what it observes; they produce ``Estimates``.

Everything decays exponentially so the estimates follow drifts (a mid-shift drop in
answer rate, a change of script lengthening talk time) without hindsight:

* ring-to-live-answer pmf: decayed histogram with a flat prior;
* talk time: lognormal fitted on decayed moments of log talk time;
* wrap-up: decayed mean;
* wrap-up and talk over short windows (:mod:`predictive.pacing.recent`, the last few
  calls): published instead of the long-run values while significantly longer;
* ``p_scale``: decayed observed live answers / decayed sum of model probabilities, so a
  stale answer model is corrected within a few hundred attempts;
* per-list scales (:mod:`predictive.pacing.lists`): the same ratio per lead list, over a long
  and a short (minutes) window, starting from a conservative rate for a list never seen;
* ``risk_threshold``: integral control of log(threshold) on abandons: each live answer
  moves it up by ``gain * target``, each abandon down by ``gain * (1 - target)``, so in
  steady state abandons / live answers equals ``target``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from predictive.pacing.lists import ListRates, ListRatesConfig
from predictive.pacing.recent import RecentMean
from predictive.pacing.types import (
    AttemptEnded,
    AttemptOutcome,
    Estimates,
    LiveAnswerHandled,
    PacingEvent,
    TalkEnded,
    WrapEnded,
)


@dataclass(frozen=True, slots=True)
class EstimatorConfig:
    target_abandon: float = 0.0225  # internal target, below the regulatory cap of 3 %
    ring_bins: int = 32
    ring_half_life: float = 3000.0  # live answers
    ring_prior_weight: float = 3.0
    ring_publish_every: int = 10  # live answers between refreshes of the published pmf
    talk_half_life: float = 3000.0  # talks
    p_half_life: float = 600.0  # attempts
    p_prior_weight: float = 20.0
    risk_gain: float = 0.05
    risk_start: float = 0.025
    risk_min: float = 0.002
    risk_max: float = 0.6
    risk_warmup: float = 1500.0  # gain x sqrt(warmup / answers) (at most x4) at first
    # The neutral prior every campaign starts from (the same for every scenario, none of the
    # benchmark's talk profiles): a 3-minute call, cv 1, 15 s wrap-up, weighing as
    # ``prior_weight`` observations; it is learned away online within the first talks.
    prior_talk_mean_s: float = 180.0
    prior_talk_cv: float = 1.0
    prior_wrap_s: float = 15.0
    prior_weight: float = 5.0
    abandon_window_s: float = 2.0
    future_weight: float = 0.0
    lookahead: bool = True
    recent_half_life: float = 4.0  # calls: the short window of wrap-up and talk (0: off)
    per_list: bool = True  # per-list scales (off: every lead on the campaign-wide p_scale)
    lists: ListRatesConfig = ListRatesConfig()
    budget_share: float = 1.0  # decide's abandon budget: this share of the cap (0: off)
    budget_alpha: float = 0.02
    budget_reserve: float = 1.0
    budget_max_agents: int = 9


def _decay(half_life: float) -> float:
    return 0.5 ** (1.0 / half_life)


class OnlineEstimator:
    """Feed with :data:`PacingEvent`; read :meth:`estimates` (cheap, cached)."""

    def __init__(self, config: EstimatorConfig | None = None) -> None:
        c = self.cfg = config or EstimatorConfig()
        self._ring = [c.ring_prior_weight / c.ring_bins] * c.ring_bins
        sigma2 = math.log(1 + c.prior_talk_cv**2)
        self._lm, self._lv = math.log(c.prior_talk_mean_s) - sigma2 / 2, sigma2
        self._wrap = c.prior_wrap_s
        self._recent_wrap = RecentMean(c.recent_half_life or 1.0)
        self._recent_log_talk = RecentMean(c.recent_half_life or 1.0)
        self._ring_pub = self._ring_pmf()
        self._ring_new = 0
        self._obs = self._pred = 0.0
        self._log_risk = math.log(c.risk_start)
        self.lists = ListRates(c.lists)
        self.n_attempts = self.n_talks = self.n_live = self.n_abandons = 0
        self._cache: Estimates | None = None

    def observe(self, event: PacingEvent, now: float = 0.0) -> None:
        self._cache = None
        if isinstance(event, AttemptEnded):
            self._attempt(event)
            if event.list_id is not None and self.cfg.per_list:
                live = event.outcome is AttemptOutcome.LIVE
                self.lists.observe(event.list_id, live, event.p_answer, now)
        elif isinstance(event, LiveAnswerHandled) and not event.machine:
            self._handled(event.abandoned)
        elif isinstance(event, TalkEnded) and not event.machine:
            self._talk(event.talk_s)
        elif isinstance(event, WrapEnded):
            w = max(1 - _decay(self.cfg.talk_half_life), 1 / (self.n_talks + self.cfg.prior_weight))
            self._wrap += w * (event.wrap_s - self._wrap)
            self._recent_wrap.update(event.wrap_s)

    def _attempt(self, e: AttemptEnded) -> None:
        self.n_attempts += 1
        live = e.outcome is AttemptOutcome.LIVE
        d = _decay(self.cfg.p_half_life)
        self._obs = d * self._obs + float(live)
        self._pred = d * self._pred + e.p_answer
        if live:
            d = _decay(self.cfg.ring_half_life)
            k = min(int(round(e.duration_s)), self.cfg.ring_bins - 1)
            self._ring = [x * d for x in self._ring]
            self._ring[k] += 1.0
            self._ring_new += 1
            if self._ring_new >= self.cfg.ring_publish_every or self.n_attempts < 1000:
                self._ring_pub, self._ring_new = self._ring_pmf(), 0

    def _ring_pmf(self) -> tuple[float, ...]:
        total = sum(self._ring)
        return tuple(x / total for x in self._ring)

    def _handled(self, abandoned: bool) -> None:
        c = self.cfg
        self.n_live += 1
        self.n_abandons += abandoned
        step = -(1 - c.target_abandon) if abandoned else c.target_abandon
        gain = c.risk_gain * min(4.0, max(1.0, math.sqrt(c.risk_warmup / self.n_live)))
        lo, hi = math.log(c.risk_min), math.log(c.risk_max)
        self._log_risk = min(hi, max(lo, self._log_risk + gain * step))

    def _talk(self, talk_s: float) -> None:
        self.n_talks += 1
        x = math.log(max(talk_s, 1.0))
        w = max(1 - _decay(self.cfg.talk_half_life), 1 / (self.n_talks + self.cfg.prior_weight))
        self._recent_log_talk.update(x)
        delta = x - self._lm
        self._lm += w * delta
        self._lv = (1 - w) * (self._lv + w * delta * delta)

    def _recent(self, recent: RecentMean, long_run: float) -> float:
        short = recent.above(long_run) if self.cfg.recent_half_life > 0 else None
        return long_run if short is None else short

    def estimates(self) -> Estimates:
        if self._cache is None:
            c = self.cfg
            k = c.p_prior_weight
            self._cache = Estimates(
                ring_pmf=self._ring_pub,
                talk_mu=self._recent(self._recent_log_talk, self._lm),
                talk_sigma=math.sqrt(max(self._lv, 1e-4)),
                wrap_mean_s=self._recent(self._recent_wrap, self._wrap),
                p_scale=(self._obs + k) / (self._pred + k),
                risk_threshold=math.exp(self._log_risk),
                n_attempts=self.n_attempts, n_talks=self.n_talks,
                abandon_window_s=c.abandon_window_s, future_weight=c.future_weight,
                lookahead=c.lookahead,
                list_scales=self.lists.scales() if c.per_list else {},
                new_list_p=c.lists.new_list_p if c.per_list else 0.0,
                budget_share=c.budget_share, budget_alpha=c.budget_alpha,
                budget_max_agents=c.budget_max_agents, budget_reserve=c.budget_reserve,
            )
        return self._cache
