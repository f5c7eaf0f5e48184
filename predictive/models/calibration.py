"""Probability calibration (isotonic / Platt) and the metrics we report for it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from predictive.errors import ModelError

EPS = 1e-6
P_FLOOR = 1e-3  # calibrated probabilities stay inside [P_FLOOR, 1 - P_FLOOR]


@dataclass(frozen=True, slots=True)
class Calibrator:
    """Maps raw scores to calibrated probabilities.

    ``method`` is ``isotonic`` (piecewise-linear through pooled-adjacent-violators blocks)
    or ``platt`` (sigmoid(a * logit(score) + b)).
    """

    method: str
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    a: float = 1.0
    b: float = 0.0

    def apply(self, scores: np.ndarray) -> np.ndarray:
        s = np.clip(np.asarray(scores, dtype=float), EPS, 1 - EPS)
        if self.method == "isotonic":
            return np.clip(np.interp(s, self.xs, self.ys), P_FLOOR, 1 - P_FLOOR)
        if self.method == "platt":
            p = 1.0 / (1.0 + np.exp(-(self.a * np.log(s / (1 - s)) + self.b)))
            return np.clip(p, P_FLOOR, 1 - P_FLOOR)
        if self.method == "identity":
            return s
        raise ModelError(f"unknown calibration method {self.method!r}")

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "xs": list(self.xs), "ys": list(self.ys),
                "a": self.a, "b": self.b}

    @staticmethod
    def from_dict(raw: dict) -> Calibrator:
        return Calibrator(raw["method"], tuple(raw["xs"]), tuple(raw["ys"]), raw["a"], raw["b"])


def fit_isotonic(scores: np.ndarray, y: np.ndarray, min_block: int | None = None) -> Calibrator:
    """Pool-adjacent-violators on (score, outcome), increasing.

    Blocks lighter than ``min_block`` rows (default max(30, n/100)) are merged into a
    neighbour and each block's rate is shrunk towards the overall rate with a pseudo-count
    of 2, so a handful of extreme rows cannot map a score to 0 or 1.
    """
    order = np.argsort(scores, kind="mergesort")
    s, t = np.asarray(scores, float)[order], np.asarray(y, float)[order]
    blocks: list[list[float]] = []  # [sum_y, weight, min_s, max_s]
    for si, ti in zip(s, t, strict=True):
        blocks.append([ti, 1.0, si, si])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            top = blocks.pop()
            blocks[-1] = [blocks[-1][0] + top[0], blocks[-1][1] + top[1], blocks[-1][2], top[3]]
    blocks = _merge_small(blocks, min_block or max(30, len(t) // 100))
    base = float(t.mean()) if len(t) else 0.0
    xs, ys = [], []
    for total, weight, lo, hi in blocks:
        xs.append((lo + hi) / 2)
        ys.append((total + 2.0 * base) / (weight + 2.0))
    return Calibrator("isotonic", tuple(xs), tuple(ys))


def _merge_small(blocks: list[list[float]], min_weight: int) -> list[list[float]]:
    """Merge under-weight blocks into their neighbour (keeps the means non-decreasing)."""
    out: list[list[float]] = []
    for b in blocks:
        if out and (out[-1][1] < min_weight or b[1] < min_weight):
            last = out[-1]
            out[-1] = [last[0] + b[0], last[1] + b[1], last[2], b[3]]
        else:
            out.append(list(b))
    if len(out) > 1 and out[-1][1] < min_weight:
        last = out.pop()
        out[-1] = [out[-1][0] + last[0], out[-1][1] + last[1], out[-1][2], last[3]]
    return out


def fit_platt(scores: np.ndarray, y: np.ndarray) -> Calibrator:
    s = np.clip(np.asarray(scores, float), EPS, 1 - EPS)
    z, t = np.log(s / (1 - s)), np.asarray(y, float)

    def nll(w: np.ndarray) -> float:
        q = np.clip(1 / (1 + np.exp(-(w[0] * z + w[1]))), EPS, 1 - EPS)
        return float(-np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))

    res = minimize(nll, np.array([1.0, 0.0]), method="Nelder-Mead")
    return Calibrator("platt", a=float(res.x[0]), b=float(res.x[1]))


def fit_calibrator(scores: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
    """Isotonic with >= 1000 held-out rows (``auto``), Platt below that."""
    if len(y) == 0:
        return Calibrator("identity")
    if method == "auto":
        method = "isotonic" if len(y) >= 1000 else "platt"
    return fit_isotonic(scores, y) if method == "isotonic" else fit_platt(scores, y)


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    lo: float
    hi: float
    n: int
    mean_predicted: float
    observed: float


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(p) - np.asarray(y)) ** 2))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    t = np.asarray(y, float)
    return float(-np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))


def reliability_table(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[ReliabilityBin]:
    p, y = np.asarray(p, float), np.asarray(y, float)
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.any():
            out.append(ReliabilityBin(float(lo), float(hi), int(m.sum()), float(p[m].mean()),
                                      float(y[m].mean())))
    return out


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    table = reliability_table(p, y, bins)
    n = sum(b.n for b in table)
    return sum(b.n * abs(b.mean_predicted - b.observed) for b in table) / n if n else math.nan


def auc(p: np.ndarray, y: np.ndarray) -> float:
    """Rank AUC (Mann-Whitney)."""
    p, y = np.asarray(p, float), np.asarray(y, bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return math.nan
    ranks = np.empty(len(p))
    ranks[np.argsort(p, kind="mergesort")] = np.arange(1, len(p) + 1)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))
