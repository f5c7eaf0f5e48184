"""Our pacing policy: a pure function of the snapshot.

For the k-th extra call we could launch now, we estimate the probability that, if it is
answered by a live person, no agent is free within the abandon window (2 s) of its
answer. That needs, at each second tau at which it may be answered (the ring-time pmf):

* agents free by tau + 2: ready agents + each busy agent's P(free by then), from the
  lognormal talk time conditioned on the time already spent talking, plus wrap-up;
* live answers that will claim an agent before it: each call in flight with its own
  probability (model p x online calibration), conditioned on still ringing after its
  elapsed time; plus the earlier of the k-1 extra calls; plus calls already waiting.

Free agents minus claims is a sum of independent Bernoullis, approximated by Volkova's
refined normal approximation (normal + skewness term, continuity-corrected). With
``lookahead`` the risk charged to a call answered at tau is the worst shortfall from tau
on, since taking an agent at tau abandons a later answer instead (the call's full
marginal effect on abandons). We dial while that risk stays under a threshold that the
online estimator tunes from observed abandons (integral control towards the target
rate), and never fewer than progressive would.

Each lead's model p is scaled by its list's observed/predicted ratio (a list never seen is
charged a conservative rate; :mod:`predictive.pacing.lists`). The abandon budget
(:func:`abandon_budget`) then keeps the launch within what the window can still afford: with
few agents a day's abandons come in clusters the threshold control cannot average out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import ndtr, pdtr

from predictive.pacing.baselines import dial_prefix, progressive_count
from predictive.pacing.types import BusyState, DialDecision, Estimates, PacingSnapshot

MIN_ATTEMPTS = 40
MIN_TALKS = 8  # the configured talk prior weighs as 5 talks in the estimator
GUARD_MIN_ANSWERS = 100
_PMF_FLOOR = 1e-3
_MAX_TALK = 3600  # talk elapsed beyond this is treated as this
_MAX_TAU = 64


def decide(snapshot: PacingSnapshot) -> DialDecision:
    """How many hopper leads to dial now, which ones, and why."""
    est = snapshot.estimates
    floor = progressive_count(snapshot)
    if est is None or est.n_attempts < MIN_ATTEMPTS or est.n_talks < MIN_TALKS:
        seen = (est.n_attempts, est.n_talks) if est else (0, 0)
        reason = (
            "falling back to progressive: too little data "
            f"({seen[0]}/{MIN_ATTEMPTS} attempts, {seen[1]}/{MIN_TALKS} talks)"
        )
        return dial_prefix(snapshot, floor, reason)
    limit = min(len(snapshot.hopper), snapshot.max_dials, 10 + 2 * snapshot.agents_logged_in)
    if limit <= 0:
        return DialDecision(0, (), "predictive: no lead or line available")
    probe = min(limit, max(floor, 0) + 8)
    risks = marginal_risks(snapshot, est, probe)
    if probe < limit and risks[-1] <= est.risk_threshold:
        risks = marginal_risks(snapshot, est, limit)
    limit = len(risks)
    theta = risk_threshold(snapshot, est)
    over = risks > theta
    n = int(np.argmax(over)) if over.any() else limit
    n = max(n, min(max(floor, 0), limit))
    p_new = effective_p(snapshot.hopper, est)[:limit]
    nb = abandon_budget(snapshot, est, risks, p_new, n, max(floor, 0))
    nxt = f"{risks[n]:.3f}" if n < limit else "n/a"
    reason = (
        f"predictive: dial {nb}; next call's abandon risk {nxt} vs threshold {theta:.3f} "
        f"(p scale {est.p_scale:.2f}, window abandon {snapshot.stats.abandon_rate:.2%})"
    )
    if nb < n:
        reason += f"; abandon budget: {nb} instead of {n}"
    d = dial_prefix(snapshot, nb, reason)
    k = d.count
    return DialDecision(k, d.lead_ids, d.reason, tuple(risks[:k].tolist()),
                        tuple((risks[:k] * p_new[:k]).tolist()))


def abandon_budget(snapshot: PacingSnapshot, est: Estimates, risks: np.ndarray,
                   p_new: np.ndarray, n: int, floor: int) -> int:
    """The most of the first ``n`` calls (never fewer than ``floor``) whose launch keeps the
    window's abandons under ``budget_share`` x the cap.

    The abandons counted are the window's so far plus what the calls in flight (their expected
    abandons at launch, ``snapshot.pending_abandons``) and this launch may still cause: the
    upper ``1 - budget_alpha`` quantile of a Poisson count with that mean, and
    ``budget_reserve`` more (one abandon kept in hand: many launches at the edge of the budget
    each risk ``budget_alpha`` of one more); the live answers, the window's so far plus the
    expected ones of the calls in flight and of this launch. So with under one abandon of budget
    left beyond the reserve, only calls very unlikely to abandon go (P(one more) under
    ``budget_alpha``), and the window ends over the cap only if the tail passes the reserve."""
    if est.budget_share <= 0.0 or n <= floor or snapshot.agents_logged_in > est.budget_max_agents:
        return n
    stats = snapshot.stats
    exp = snapshot.pending_abandons + np.cumsum(p_new[floor:n] * risks[floor:n])
    answers = (stats.live_answers + _flight_p(snapshot, est).sum()
               + np.cumsum(p_new[:n])[floor:])
    spent = stats.abandons + est.budget_reserve + poisson_upper(exp, est.budget_alpha)
    over = spent > est.budget_share * snapshot.target_abandon * answers
    return floor + int(np.argmax(over)) if over.any() else n


def poisson_upper(mu: np.ndarray, alpha: float) -> np.ndarray:
    """The smallest k with P(Poisson(mu) <= k) >= 1 - alpha, for each mu."""
    top = float(mu.max()) if len(mu) else 0.0
    k = np.arange(int(top + 8.0 * np.sqrt(top) + 12.0))[:, None]
    return np.argmax(pdtr(k, mu[None, :]) >= 1.0 - alpha, axis=0)


def risk_threshold(snapshot: PacingSnapshot, est: Estimates) -> float:
    """The tuned threshold, tightened when the window rate nears the campaign target."""
    theta = est.risk_threshold
    stats, cap = snapshot.stats, snapshot.target_abandon
    if stats.live_answers >= GUARD_MIN_ANSWERS and stats.abandon_rate > 0.85 * cap:
        theta *= (0.85 * cap / stats.abandon_rate) ** 4
    return theta


@dataclass(frozen=True, slots=True, eq=False)
class _Tables:
    """Arrays derived from the estimates, memoised on their rounded values."""

    taus: np.ndarray  # seconds after dialling at which a live answer may arrive
    weights: np.ndarray  # their probabilities
    cdf: np.ndarray  # ring-to-live cdf, padded
    free_talk: np.ndarray  # [elapsed talk s, tau] -> P(free by tau + window)
    free_wrap: np.ndarray  # [elapsed wrap s, tau] -> 0/1
    future: np.ndarray  # expected overtaking claims per busy agent, by tau
    g_tau: np.ndarray  # [1, tau] P(an earlier extra call has answered by tau)
    g_tau2: np.ndarray


_last: list[tuple[Estimates, _Tables]] = []  # one-slot memo: same Estimates -> same tables
_by_key: dict[tuple, _Tables] = {}  # same rounded inputs -> same tables


def _tables(est: Estimates) -> _Tables:
    if _last and _last[0][0] is est:
        return _last[0][1]
    key = (est.ring_pmf, round(est.talk_mu, 2), round(est.talk_sigma, 2),
           round(est.wrap_mean_s), est.abandon_window_s, est.future_weight)
    tables = _by_key.get(key)
    if tables is None:
        tables = _compute_tables(est)
        if len(_by_key) >= 64:
            _by_key.clear()
        _by_key[key] = tables
    _last[:] = [(est, tables)]
    return tables


def _compute_tables(est: Estimates) -> _Tables:
    taus, weights, cdf, future = _ring_arrays(est.ring_pmf, est.abandon_window_s)
    mu, sigma, wrap = round(est.talk_mu, 2), round(est.talk_sigma, 2), round(est.wrap_mean_s)
    free_talk, free_wrap = _free_tables(mu, sigma, wrap, est.abandon_window_s, tuple(taus))
    rate = est.future_weight / (np.exp(mu + sigma * sigma / 2) + wrap)
    g_tau = cdf[taus][None, :]
    return _Tables(taus, weights, cdf, free_talk, free_wrap, future * rate, g_tau, g_tau * g_tau)


@lru_cache(maxsize=8)
def _ring_arrays(
    pmf_t: tuple[float, ...], window: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pmf = np.asarray(pmf_t) / max(sum(pmf_t), 1e-12)
    taus = np.nonzero(pmf > _PMF_FLOOR)[0]
    cdf = np.concatenate((np.cumsum(pmf), np.ones(_MAX_TAU)))
    acc = np.concatenate(([0.0], np.cumsum(cdf)))
    future = acc[taus] - acc[np.minimum(taus, 1)]  # sum_{u=1..tau-1} G(u)
    return taus, pmf[taus] / pmf[taus].sum(), cdf, future


@lru_cache(maxsize=16)
def _free_tables(
    mu: float, sigma: float, wrap: int, window: float, taus: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(taus, dtype=float) + window
    e = np.maximum(np.arange(_MAX_TALK, dtype=float), 0.5)[:, None]
    x = np.maximum(e + t[None, :] - wrap, 1e-6)
    s_e = ndtr((mu - np.log(e)) / sigma)
    s_x = ndtr((mu - np.log(x)) / sigma)
    free_talk = np.where(x > e, 1.0 - s_x / np.maximum(s_e, 1e-12), 0.0)
    free_wrap = (t[None, :] >= wrap - np.arange(_MAX_TAU, dtype=float)[:, None]).astype(float)
    return free_talk, free_wrap


def marginal_risks(snapshot: PacingSnapshot, est: Estimates, limit: int) -> np.ndarray:
    """P(abandoned | answered) of the 1st..limit-th extra call launched now."""
    tb = _tables(est)
    f, h = _free_matrix(snapshot, tb), _claim_matrix(snapshot, est, tb)
    fh = np.concatenate((f, h))
    q = fh * (1.0 - fh)
    sign = np.ones(len(fh))
    sign[len(f) :] = -1.0
    base = float(len(snapshot.ready) - snapshot.waiting_calls)
    m_f = tb.future * len(f)
    mean0 = base + sign @ fh - m_f
    var0 = np.ones(len(fh)) @ q + m_f + 1e-9
    third0 = sign @ (q - 2.0 * fh * q) - m_f
    p_new = effective_p(snapshot.hopper, est)[:limit]
    before = (np.cumsum(p_new) - p_new)[:, None]
    before2 = (np.cumsum(p_new * p_new) - p_new * p_new)[:, None]
    m_n = before * tb.g_tau
    b2g2 = before2 * tb.g_tau2
    var = var0 + m_n - b2g2
    sd = np.sqrt(var)
    x = (0.5 - mean0 + m_n) / sd
    skew = (third0 - m_n + 3.0 * b2g2) / (var * sd)
    pdf = np.exp(-0.5 * x * x) * 0.3989422804014327
    cdf = np.minimum(np.maximum(ndtr(x) + skew * (1.0 - x * x) * pdf / 6.0, 0.0), 1.0)  # RNA
    if est.lookahead:  # a call answered at tau also takes an agent from answers after it
        cdf = np.maximum.accumulate(cdf[:, ::-1], axis=1)[:, ::-1]
    return cdf @ tb.weights


@dataclass(frozen=True, slots=True, eq=False)
class RiskTerms:
    """The terms ``marginal_risks`` sums up for a snapshot, by answer time ``tau``: enough to
    compute the exact shortfall distribution they approximate (a check of the approximation)."""

    taus: np.ndarray  # seconds after dialling at which a live answer may arrive
    weights: np.ndarray  # their probabilities
    cdf: np.ndarray  # ring-to-live cdf, padded
    free: np.ndarray  # [busy agent, tau] -> P(free by now + tau + window)
    claims: np.ndarray  # [call in flight, tau] -> P(a live answer arriving by now + tau)


def risk_terms(snapshot: PacingSnapshot, est: Estimates) -> RiskTerms:
    """The agents freeing and the calls in flight claiming, as ``marginal_risks`` sees them."""
    tb = _tables(est)
    return RiskTerms(tb.taus, tb.weights, tb.cdf, _free_matrix(snapshot, tb),
                     _claim_matrix(snapshot, est, tb))


def _free_matrix(snapshot: PacingSnapshot, tb: _Tables) -> np.ndarray:
    """[busy agent, tau] -> P(free by now + tau + window)."""
    talk_since, wrap_since = _busy_since(snapshot.busy)
    now = snapshot.now
    if len(talk_since):
        talk_e = np.minimum((now - talk_since).astype(np.intp), _MAX_TALK - 1)
        f = tb.free_talk[talk_e]
    else:
        f = tb.free_talk[:0]
    if len(wrap_since):
        wrap_e = np.minimum((now - wrap_since).astype(np.intp), _MAX_TAU - 1)
        f = np.concatenate((f, tb.free_wrap[wrap_e]))
    return f


# One-slot memos keyed by the identity of a snapshot's (immutable) tuples: the simulator
# reuses them from second to second until something changes; a new tuple is a miss.
_busy_memo: list[tuple[tuple, tuple[np.ndarray, np.ndarray]]] = []
_flight_memo: list[tuple[tuple, tuple[np.ndarray, np.ndarray]]] = []
_hopper_memo: list[tuple[tuple, np.ndarray]] = []


def _busy_since(busy: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Start times of the busy agents who count (not leaving): talking, in wrap-up."""
    if _busy_memo and _busy_memo[0][0] is busy:
        return _busy_memo[0][1]
    talk = BusyState.TALK
    talk_s = [b.since for b in busy if not b.leaving and b.state is talk]
    wrap_s = [b.since for b in busy if not b.leaving and b.state is not talk]
    out = (np.array(talk_s, dtype=float), np.array(wrap_s, dtype=float))
    _busy_memo[:] = [(busy, out)]
    return out


def _flight_arrays(flight: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(dialled at, model p) of the calls in flight."""
    if _flight_memo and _flight_memo[0][0] is flight:
        return _flight_memo[0][1]
    n = len(flight)
    out = (np.fromiter([c.dialed_at for c in flight], float, n),
           np.fromiter([c.p_answer for c in flight], float, n))
    _flight_memo[:] = [(flight, out)]
    return out


def _hopper_p(hopper: tuple) -> np.ndarray:
    if _hopper_memo and _hopper_memo[0][0] is hopper:
        return _hopper_memo[0][1]
    out = np.fromiter([x.p_answer for x in hopper], float, len(hopper))
    _hopper_memo[:] = [(hopper, out)]
    return out


_lists_memo: dict[str, tuple[tuple, tuple | None]] = {}
_scaled_memo: dict[str, tuple[tuple, Estimates, np.ndarray]] = {}


def _list_ids(kind: str, items: tuple) -> tuple | None:
    """The items' list ids, or None when none has one (memoised on the tuple's identity)."""
    hit = _lists_memo.get(kind)
    if hit is not None and hit[0] is items:
        return hit[1]
    ids = tuple(x.list_id for x in items)
    out = ids if any(i is not None for i in ids) else None
    _lists_memo[kind] = (items, out)
    return out


def _scaled(p_model: np.ndarray, lists: tuple | None, est: Estimates) -> np.ndarray:
    """Model p x its list's scale (no list: the campaign's; a list never seen: at least
    ``new_list_p``), at most 0.99."""
    if lists is None:
        return np.minimum(p_model * est.p_scale, 0.99)
    known, pooled = est.list_scales, est.p_scale
    scale = np.fromiter((pooled if k is None else known.get(k, -1.0) for k in lists), float,
                        len(lists))
    p = p_model * np.abs(scale)
    p = np.where(scale < 0, np.maximum(p_model * pooled, est.new_list_p), p)
    return np.minimum(p, 0.99)


def effective_p(hopper: tuple, est: Estimates) -> np.ndarray:
    """P(live answer) of each hopper lead dialled now, as the policy charges it."""
    hit = _scaled_memo.get("hopper")
    if hit is not None and hit[0] is hopper and hit[1] is est:
        return hit[2]
    out = _scaled(_hopper_p(hopper), _list_ids("hopper", hopper), est)
    _scaled_memo["hopper"] = (hopper, est, out)
    return out


def _flight_p(snapshot: PacingSnapshot, est: Estimates) -> np.ndarray:
    """P(live answer) of each call in flight, as the policy charges it (before conditioning
    on its elapsed ring time)."""
    flight = snapshot.in_flight
    hit = _scaled_memo.get("flight")
    if hit is not None and hit[0] is flight and hit[1] is est:
        return hit[2]
    out = _scaled(_flight_arrays(flight)[1], _list_ids("flight", flight), est)
    _scaled_memo["flight"] = (flight, est, out)
    return out


def _claim_matrix(snapshot: PacingSnapshot, est: Estimates, tb: _Tables) -> np.ndarray:
    """[call in flight, tau] -> P(it is a live answer arriving by now + tau)."""
    flight = snapshot.in_flight
    if not flight:
        return tb.free_talk[:0]
    top = _MAX_TAU - 1
    dialed_at, _ = _flight_arrays(flight)
    elapsed = snapshot.now - dialed_at
    ei = np.minimum(elapsed, top).astype(np.intp)  # whole seconds, elapsed >= 0
    p = _flight_p(snapshot, est)
    g_e = tb.cdf[ei]
    g_et = tb.cdf[ei[:, None] + tb.taus[None, :]]
    return (p / np.maximum(1.0 - p * g_e, 1e-9))[:, None] * (g_et - g_e[:, None])
