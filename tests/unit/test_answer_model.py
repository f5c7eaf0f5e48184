"""Answer-probability model: XGBoost + calibration + prior + versioned registry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from predictive.errors import ModelError
from predictive.models.answer_model import AnswerModel, build_scorer, train_answer_model
from predictive.models.calibration import (
    brier,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
)
from predictive.models.features import FEATURES, ListRateTracker, Vocab, extract
from predictive.models.prior import BetaBinomialPrior
from predictive.models.registry import ModelRegistry, should_retrain
from predictive.sim.history import generate_history


@pytest.fixture(scope="module")
def history() -> tuple[list, np.ndarray]:
    return generate_history(6000, seed=1)


@pytest.fixture(scope="module")
def model(history: tuple[list, np.ndarray]) -> AnswerModel:
    return train_answer_model(history[0], now=datetime(2026, 2, 1, tzinfo=UTC))


def test_given_simulated_history_when_trained_then_beats_one_pooled_rate(
    model: AnswerModel,
) -> None:
    m = model.card.metrics
    assert m.brier < m.brier_base_rate - 0.004
    assert m.auc > 0.65
    assert m.ece < 0.03
    assert sum(b.n for b in m.reliability) == m.n
    pooled = -(m.base_rate * np.log(m.base_rate)
               + (1 - m.base_rate) * np.log(1 - m.base_rate))  # log-loss of the test's own rate
    assert m.log_loss < pooled - 0.01  # beats even the hindsight pooled rate on log-loss
    for b in m.reliability:  # reliability table: well-populated bins predict what they observe
        assert b.lo <= b.mean_predicted <= b.hi
        if b.n >= 300:
            assert abs(b.observed - b.mean_predicted) < 0.05


def test_given_simulated_history_when_trained_then_close_to_the_true_probabilities(
    history: tuple[list, np.ndarray], model: AnswerModel,
) -> None:
    rows, p_true = history
    b = int(0.8 * len(rows))
    y = np.array([r.live for r in rows[b:]])
    assert model.card.metrics.brier < brier(p_true[b:], y) + 0.003


def test_given_miscalibrated_scores_when_isotonic_then_calibrated() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.6, 20000)
    y = rng.random(20000) < p
    scores = np.sqrt(p)  # monotone but miscalibrated
    cal = fit_isotonic(scores[:10000], y[:10000])
    assert expected_calibration_error(cal.apply(scores[10000:]), y[10000:]) < 0.02
    assert expected_calibration_error(scores[10000:], y[10000:]) > 0.1


def test_given_overconfident_scores_when_platt_then_calibrated() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(-1, 1, 5000)
    y = rng.random(5000) < 1 / (1 + np.exp(-z))
    scores = 1 / (1 + np.exp(-3 * z))
    cal = fit_platt(scores, y)
    assert cal.a == pytest.approx(1 / 3, abs=0.08)
    assert expected_calibration_error(cal.apply(scores), y) < 0.03


def test_given_thin_history_when_building_scorer_then_uses_the_prior_and_says_so(
    history: tuple[list, np.ndarray],
) -> None:
    rows = history[0][:300]
    scorer = build_scorer(rows)
    p, source = scorer.score(rows[:5], {})
    assert source == "prior" and scorer.model is None
    assert np.all((p > 0) & (p < 1))


def test_given_too_few_rows_when_training_then_model_error(
    history: tuple[list, np.ndarray],
) -> None:
    with pytest.raises(ModelError):
        train_answer_model(history[0][:100])


def test_given_groups_when_fitting_beta_binomial_then_shrinks_thin_groups() -> None:
    rows, _ = generate_history(3000, seed=2)
    prior = BetaBinomialPrior.fit(rows)
    assert prior.mean("no_such_list", 3) == pytest.approx(prior.pooled)
    lives, n = prior.counts[("referrals", 19)]
    own = lives / n
    assert min(own, prior.pooled) <= prior.mean("referrals", 19) <= max(own, prior.pooled)


def test_given_rows_when_extracting_then_list_rate_uses_only_earlier_rows(
    history: tuple[list, np.ndarray],
) -> None:
    rows = history[0][:50]
    x, y = extract(rows, Vocab.fit(rows), ListRateTracker(prior_rate=0.2))
    col = FEATURES.index("list_contact_rate")
    first = {r.list_id: i for i, r in reversed(list(enumerate(rows)))}
    assert all(x[i, col] == pytest.approx(0.2) for i in first.values())
    assert y.sum() == sum(r.live for r in rows)


def test_given_a_model_when_saved_and_loaded_then_same_predictions_and_metrics(
    tmp_path: Path, model: AnswerModel, history: tuple[list, np.ndarray],
) -> None:
    reg = ModelRegistry(tmp_path)
    reg.save(model)
    loaded = reg.load()
    rows = history[0][-20:]
    assert reg.versions() == [model.card.version]
    assert loaded.card.metrics.brier == model.card.metrics.brier
    np.testing.assert_allclose(loaded.predict_rows(rows, {}), model.predict_rows(rows, {}))


def test_given_an_old_model_when_checking_then_retrain() -> None:
    rows, _ = generate_history(2500, seed=3)
    m = train_answer_model(rows, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert should_retrain(m.card, datetime(2026, 1, 9, tzinfo=UTC), rows_since=0)
    assert not should_retrain(m.card, datetime(2026, 1, 2, tzinfo=UTC), rows_since=10)
    assert should_retrain(m.card, datetime(2026, 1, 2, tzinfo=UTC), rows_since=10**6)


def test_given_unseen_categories_when_predicting_then_still_probabilities(
    model: AnswerModel, history: tuple[list, np.ndarray],
) -> None:
    row = replace(history[0][0], region="atlantis", list_id="new_list",
                  attempted_at=datetime(2026, 3, 1) + timedelta(hours=1))
    p = model.predict_rows([row], {})
    assert 0 < p[0] < 1


def test_given_a_scorer_when_scoring_the_hopper_then_queued_leads_in_order(
    history: tuple[list, np.ndarray], model: AnswerModel,
) -> None:
    from predictive.models.answer_model import AnswerScorer
    from predictive.models.scoring import queued_leads

    rows = history[0][:5]
    scorer = AnswerScorer(BetaBinomialPrior.fit(history[0]), model)
    leads, source = queued_leads(scorer, [(r.lead_id, r) for r in rows], ListRateTracker())
    assert [q.lead_id for q in leads] == [r.lead_id for r in rows]
    assert source == model.card.version and all(0 < q.p_answer < 1 for q in leads)


def test_given_the_retraining_job_when_run_over_time_then_versions_follow_the_schedule(
    tmp_path: Path,
) -> None:
    from predictive.models.registry import retrain_if_due

    rows, _ = generate_history(2500, seed=4)
    reg = ModelRegistry(tmp_path / "models")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)  # after all of the history
    model, why = retrain_if_due(reg, rows[:1500], t0)
    assert model is None and "too little history" in why and reg.versions() == []
    first, why = retrain_if_due(reg, rows, t0)
    assert first is not None and why.startswith("trained") and reg.versions() == [
        first.card.version]
    kept, why = retrain_if_due(reg, rows, t0 + timedelta(days=1))
    assert kept is not None and kept.card.version == first.card.version and "kept" in why
    naive = t0.replace(tzinfo=None)  # the history rows are naive UTC
    newer = [replace(r, attempted_at=naive + timedelta(hours=1 + i % 20)) for i, r in
             enumerate(rows[:1500])]  # new rows: more than 25 % of those trained on
    second, why = retrain_if_due(reg, rows + newer, t0 + timedelta(days=1, hours=1))
    assert second is not None and second.card.version != first.card.version
    assert reg.versions() == sorted([first.card.version, second.card.version])
    stored = reg.load(second.card.version).card.metrics  # metrics stored with the version
    assert 0 < stored.brier < 0.25 and sum(b.n for b in stored.reliability) == stored.n
    weekly, why = retrain_if_due(reg, rows + newer, t0 + timedelta(days=9))
    assert weekly is not None and weekly.card.version not in (first.card.version,
                                                             second.card.version)
