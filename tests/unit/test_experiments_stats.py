"""Experiment statistics against scipy and published values; assignment stability and weights."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from scipy import stats as sps

from crm.experiments.assign import Variant, assign_variant, unit_point
from crm.experiments.stats import mean_ci, newcombe_diff, welch_diff, wilson


def test_given_samples_when_welch_diff_then_matches_scipy_ttest_interval() -> None:
    rng = random.Random(7)
    a = [rng.gauss(120, 30) for _ in range(40)]
    b = [rng.gauss(96, 45) for _ in range(23)]
    ours = welch_diff(b, a)
    ref = sps.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert ours.value == pytest.approx(sum(b) / len(b) - sum(a) / len(a))
    assert ours.low == pytest.approx(ref.low, rel=1e-9)
    assert ours.high == pytest.approx(ref.high, rel=1e-9)


def test_given_samples_when_mean_ci_then_matches_scipy_t_interval() -> None:
    values = [12.0, 15.5, 9.25, 30.0, 18.0, 22.5, 11.0]
    ours = mean_ci(values)
    ref = sps.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values),
                         scale=sps.sem(values))
    assert (ours.low, ours.high) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (81, 263), (10, 10), (1, 1)])
def test_given_counts_when_wilson_then_matches_scipy_binomtest(k: int, n: int) -> None:
    ours = wilson(k, n)
    ref = sps.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert ours.low == pytest.approx(ref.low, abs=1e-12)
    assert ours.high == pytest.approx(ref.high, abs=1e-12)


def test_given_newcombe_1998_example_then_published_interval() -> None:
    # Newcombe (1998), Stat Med 17:873, table II example (56/70 vs 48/80), method 10:
    # difference 0.2000, 95 % CI 0.0524 to 0.3339.
    ours = newcombe_diff(56, 70, 48, 80)
    assert ours.value == pytest.approx(0.2)
    assert ours.low == pytest.approx(0.0524, abs=5e-5)
    assert ours.high == pytest.approx(0.3339, abs=5e-5)


def test_given_tiny_groups_then_no_interval_instead_of_a_crash() -> None:
    assert welch_diff([1.0], [2.0, 3.0]).low is None
    assert mean_ci([]).value is None
    assert wilson(0, 0).value is None
    assert newcombe_diff(1, 0, 1, 2).value is None
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_given_same_units_when_assigned_twice_then_same_variant_and_other_experiment_differs(
) -> None:
    variants = [Variant("on", 1), Variant("off", 1)]
    first = [assign_variant("exp-1", f"agent{i}", variants) for i in range(200)]
    again = [assign_variant("exp-1", f"agent{i}", variants) for i in range(200)]
    other = [assign_variant("exp-2", f"agent{i}", variants) for i in range(200)]
    assert first == again
    assert first != other  # independent split per experiment
    assert 0 <= unit_point("exp-1", "agent1") < 1


def test_given_weights_when_many_units_then_shares_follow_weights() -> None:
    variants = [Variant("A", 1), Variant("B", 3), Variant("C", 0)]
    counts = Counter(assign_variant("exp-w", f"lead-{i}", variants) for i in range(20000))
    assert counts["C"] == 0
    share_b = counts["B"] / 20000
    # binomial sd at n=20000, p=0.75 is 0.003: 5 sd
    assert math.isclose(share_b, 0.75, abs_tol=0.015), counts


def test_given_bad_weights_then_value_error() -> None:
    with pytest.raises(ValueError):
        assign_variant("e", "u", [])
    with pytest.raises(ValueError):
        assign_variant("e", "u", [Variant("a", 0), Variant("b", 0)])
