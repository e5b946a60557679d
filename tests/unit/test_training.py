"""Fitting the answer model: standardised logistic regression folded into raw-feature weights."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app.answer.training import Decision, _fit, answer_rate, best_threshold


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


def _decisions(rows: list[tuple[float, bool, bool]]) -> list[Decision]:
    return [Decision(confidence, correct, answerable, ()) for confidence, correct, answerable in rows]


# At a false-answer cost of 3 the gain (correct minus cost x false answers) is highest at 0.8, where half the
# answerable questions are answered; answering all of them means going down to 0.3, short of the false one at 0.2.
DEV = _decisions(
    [
        (0.9, True, True),
        (0.8, True, True),
        (0.6, False, False),
        (0.4, True, True),
        (0.3, True, True),
        (0.2, False, False),
    ]
)


def test_the_threshold_maximises_correct_minus_false_answers() -> None:
    assert best_threshold(DEV, false_answer_cost=3.0) == 0.8
    assert answer_rate(DEV, 0.8) == 0.5


def test_a_floor_on_a_sets_answer_rate_moves_the_threshold_down_to_the_best_gain_that_keeps_it() -> None:
    assert best_threshold(DEV, false_answer_cost=3.0, floors=[(DEV, 0.75)]) == 0.3
    assert best_threshold(DEV, false_answer_cost=3.0, floors=[(DEV, 0.5)]) == 0.8


def test_an_unreachable_floor_gives_the_most_lenient_threshold() -> None:
    missed = _decisions([(0.7, False, True)])
    assert best_threshold(DEV, false_answer_cost=3.0, floors=[(missed, 0.5)]) == 0.2
