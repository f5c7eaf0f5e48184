"""Conversion model on 360-degree features and propensity routing."""

from __future__ import annotations

import numpy as np
import pytest

from predictive.errors import ModelError
from predictive.models.conversion import (
    ConversionModel,
    Customer360,
    Route,
    RoutingPolicy,
    train_conversion_model,
)
from predictive.sim.customers import generate_customers


@pytest.fixture(scope="module")
def data() -> tuple[list[Customer360], np.ndarray]:
    return generate_customers(4000, seed=0)


@pytest.fixture(scope="module")
def model(data: tuple[list[Customer360], np.ndarray]) -> ConversionModel:
    return train_conversion_model(data[0])


def test_given_customers_when_trained_then_calibrated_and_better_than_base_rate(
    model: ConversionModel,
) -> None:
    m = model.card.metrics
    assert m.brier < m.brier_base_rate - 0.005
    assert m.auc > 0.65 and m.ece < 0.05
    assert model.card.kind == "conversion" and "intent_score" in model.card.features


def test_given_scores_when_routing_by_shares_then_seniors_get_the_best_leads(
    model: ConversionModel, data: tuple[list[Customer360], np.ndarray],
) -> None:
    rows = data[0][3200:]
    scores = model.predict(rows)
    policy = RoutingPolicy.from_shares(scores, senior_share=0.2, nurture_share=0.3)
    routes = np.array([policy.route(s).value for s in scores])
    y = np.array([bool(r.converted) for r in rows])
    assert y[routes == "senior"].mean() > y[routes == "standard"].mean()
    assert y[routes == "standard"].mean() > y[routes == "nurture"].mean()
    assert abs((routes == "senior").mean() - 0.2) < 0.03


def test_given_thresholds_when_routing_then_senior_standard_nurture() -> None:
    policy = RoutingPolicy(senior_at=0.3, nurture_below=0.05)
    assert [policy.route(p) for p in (0.5, 0.1, 0.01)] == [
        Route.SENIOR, Route.STANDARD, Route.NURTURE]


def test_given_missing_intent_when_predicting_then_probability(model: ConversionModel,
                                                               data: tuple) -> None:
    row = next(r for r in data[0] if r.intent_score is None)
    assert 0 < model.predict([row])[0] < 1


def test_given_too_few_labelled_customers_when_training_then_model_error(data: tuple) -> None:
    with pytest.raises(ModelError):
        train_conversion_model(data[0][:100])
