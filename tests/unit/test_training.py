"""Fitting the answer model: standardised logistic regression folded into raw-feature weights."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app.answer.training import _fit


def test_the_fitted_weights_on_raw_features_equal_the_standardised_regression() -> None:
    rng = np.random.default_rng(3)
    # Features on very different scales, one of them constant, as the evidence features are.
    x = np.column_stack([rng.normal(0, 5, 400), rng.integers(0, 2, 400), rng.uniform(0, 1, 400), np.ones(400)]).astype(
        float
    )
    y = (x[:, 0] / 5 + x[:, 1] - x[:, 2] + rng.normal(0, 0.5, 400)) > 0.5
    model = _fit(x, y)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)).fit(x, y)
    np.testing.assert_allclose([model(tuple(row)) for row in x], reference.decision_function(x), atol=1e-6)


def test_scaling_a_feature_does_not_change_the_decisions() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.3, 300) > 0
    scaled = x * np.array([100.0, 1.0, 0.01])
    a, b = _fit(x, y), _fit(scaled, y)
    np.testing.assert_allclose([a(tuple(r)) for r in x], [b(tuple(r)) for r in scaled], atol=1e-6)
