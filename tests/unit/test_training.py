"""Fitting the answer model: standardised logistic regression folded into raw-feature weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app.answer.features import LEXICAL, FeatureSet
from app.errors import InvalidInput
from app.evaluation.dataset import Question
from app.tuning import training
from app.tuning.training import Decision, Example, HeldOut, _fit, answer_rate, best_threshold


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


def test_an_unreachable_floor_is_held_at_the_most_any_threshold_reaches() -> None:
    # Two of three answered at best, at any threshold up to 0.4: the gain picks 0.3 among those,
    # not the most lenient 0.2, which only adds a false answer.
    short = _decisions([(0.9, True, True), (0.4, True, True), (0.1, False, True)])
    assert best_threshold(DEV, false_answer_cost=3.0, floors=[(short, 0.9)]) == 0.3
    # A correct answer that was vetoed (confidence 0) is never answered: no threshold of 0.
    vetoed = _decisions([(0.9, True, True), (0.4, True, True), (0.0, True, True)])
    assert best_threshold([*DEV, *vetoed], false_answer_cost=3.0, floors=[(vetoed, 0.9)]) == 0.3
    # A set never answered right holds nothing back: as without a floor.
    missed = _decisions([(0.7, False, True)])
    assert best_threshold(DEV, false_answer_cost=3.0, floors=[(missed, 0.5)]) == 0.8


def test_held_out_figures_count_each_decision_at_its_own_models_threshold() -> None:
    held = HeldOut(
        _decisions(
            [(0.9, True, True), (0.5, True, True), (0.4, False, True), (0.6, False, False), (0.2, False, False)]
        ),
        [0.8, 0.6, 0.3, 0.5, 0.5],
    )
    # 0.5 < 0.6: the second correct answer abstains under its own model.
    assert held.answer_rate == pytest.approx(1 / 3)
    assert held.false_answer_rate == pytest.approx(1 / 2)
    assert held.auc == pytest.approx(roc_auc_score([1, 1, 0, 0, 0], [0.9, 0.5, 0.4, 0.6, 0.2]))
    assert held.log_loss == pytest.approx(log_loss([1, 1, 0, 0, 0], [0.9, 0.5, 0.4, 0.6, 0.2]))
    assert np.isnan(HeldOut(_decisions([(0.9, True, True)]), [0.5]).auc)  # one class: no AUC


@dataclass(frozen=True)
class _Model:
    threshold: float
    trained_on: frozenset[str]


def test_cross_validation_decides_each_question_with_a_model_that_never_saw_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fitted: list[dict[str, Any]] = []

    def fake_fit(examples: list[Any], trained_on: str, **kwargs: Any) -> _Model:
        fitted.append({"ids": frozenset(e.question.id for e in examples), **kwargs})
        return _Model(len(fitted) / 10, frozenset(e.question.id for e in examples))

    def fake_decide(examples: list[Any], model: _Model, features: FeatureSet = LEXICAL) -> list[Decision]:
        assert features is LEXICAL  # the features the fit was asked for reach every decision
        assert not {e.question.id for e in examples} & model.trained_on
        return [Decision(0.5, e.question.answerable, e.question.answerable, ()) for e in examples]

    monkeypatch.setattr(training, "fit", fake_fit)
    monkeypatch.setattr(training, "decide", fake_decide)
    seed = [_example(f"s{i}", answerable=i % 3 != 0) for i in range(9)]
    xquad = [_example(f"x{i}", answerable=True) for i in range(6)]
    held = training.cross_validate(
        {"seed": seed, "xquad": xquad},
        lambda ex: int(ex.question.id[1:]) % 3,
        3,
        floors={"seed": 0.9},
        false_answer_cost=0.5,
        without=("period_unnamed",),
    )
    assert len(fitted) == 3
    # Each fit sees the other two folds of both sets, with the floor on its own share of seed.
    for k, call in enumerate(fitted):
        assert call["ids"] == {e.question.id for e in seed + xquad if int(e.question.id[1:]) % 3 != k}
        ((floor_set, rate),) = call["floors"]
        assert {e.question.id for e in floor_set} == {e.question.id for e in seed if int(e.question.id[1:]) % 3 != k}
        assert rate == 0.9 and call["false_answer_cost"] == 0.5 and call["without"] == ("period_unnamed",)
    assert len(held["seed"].decisions) == 9 and len(held["xquad"].decisions) == 6
    assert sorted(held["seed"].thresholds) == [0.1] * 3 + [0.2] * 3 + [0.3] * 3


def _example(question_id: str, answerable: bool) -> Example:
    question = Question(question_id, "?", ("x",) if answerable else ())
    return Example(question, None, ())  # type: ignore[arg-type]  # the fakes never read the evidence


def test_fit_refuses_an_unknown_feature_to_leave_out() -> None:
    with pytest.raises(InvalidInput, match="unknown confidence features: nonsense"):
        training.fit([], "nothing", without=("nonsense",))


def test_a_weight_of_two_is_an_example_seen_twice() -> None:
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(0, 3, 200), rng.integers(0, 2, 200)]).astype(float)
    y = x[:, 0] / 3 + x[:, 1] + rng.normal(0, 0.7, 200) > 0.5
    twice = rng.integers(0, 2, 200).astype(bool)
    weighted = _fit(x, y, np.where(twice, 2.0, 1.0))
    repeated = _fit(np.vstack([x, x[twice]]), np.concatenate([y, y[twice]]))
    np.testing.assert_allclose(weighted.weights, repeated.weights, atol=1e-4)
    assert weighted.bias == pytest.approx(repeated.bias, abs=1e-4)
    assert not np.allclose(weighted.weights, _fit(x, y).weights, atol=1e-3)


def test_balanced_sets_weigh_the_same_and_the_mean_weight_is_one() -> None:
    seed = [_example(f"s{i}", answerable=True) for i in range(2)]
    xquad = [_example(f"x{i}", answerable=True) for i in range(6)]
    examples, weights = training.pooled([seed, xquad], balance=True)
    assert weights is not None
    assert [e.question.id for e in examples] == ["s0", "s1", *(f"x{i}" for i in range(6))]
    assert weights == [2.0, 2.0] + [2 / 3] * 6
    assert sum(weights[:2]) == pytest.approx(sum(weights[2:])) and np.mean(weights) == pytest.approx(1.0)


def test_cross_validation_balances_each_folds_fit_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    weighed: list[dict[str, float]] = []

    def fake_fit(examples: list[Any], trained_on: str, weights: list[float] | None = None, **kwargs: Any) -> _Model:
        assert weights is not None
        by_set: dict[str, float] = {}
        for e, w in zip(examples, weights, strict=True):
            by_set[e.question.id[0]] = by_set.get(e.question.id[0], 0.0) + w
        weighed.append(by_set)
        return _Model(0.5, frozenset(e.question.id for e in examples))

    monkeypatch.setattr(training, "fit", fake_fit)
    monkeypatch.setattr(training, "decide", lambda examples, model, features=LEXICAL: [])
    seed = [_example(f"s{i}", answerable=True) for i in range(3)]
    xquad = [_example(f"x{i}", answerable=True) for i in range(9)]
    training.cross_validate({"seed": seed, "xquad": xquad}, lambda ex: int(ex.question.id[1:]) % 3, 3, balance=True)
    assert len(weighed) == 3
    for by_set in weighed:  # 2 seed and 6 xquad questions in each fold's fit, weighing 4 each
        assert by_set["s"] == pytest.approx(4.0) and by_set["x"] == pytest.approx(4.0)


@pytest.mark.parametrize("balance", [False, True])
def test_fit_sets_weighs_the_sets_only_when_asked(monkeypatch: pytest.MonkeyPatch, balance: bool) -> None:
    from pathlib import Path

    from app.answer.model import AnswerModel
    from app.tuning.sets import Fitting, fit_sets

    seen: list[list[float] | None] = []

    def fake_fit(examples: list[Any], trained_on: str, weights: list[float] | None = None, **kwargs: Any) -> Any:
        seen.append(weights)
        return AnswerModel.untrained()

    monkeypatch.setattr(training, "fit", fake_fit)
    seed = [_example("s0", answerable=True)]
    xquad = [_example(f"x{i}", answerable=True) for i in range(3)]
    fit_sets({Path("seed"): seed, Path("xquad"): xquad}, {}, "both", "e5", Fitting(balance=balance))
    assert seen == ([[2.0, 2 / 3, 2 / 3, 2 / 3]] if balance else [None])


def _with_candidates(question_id: str, answerable: bool) -> Example:
    """An example with two candidate sentences, the first holding the answer when there is one."""
    from types import SimpleNamespace

    features = (0.0,) * len(LEXICAL.sentence)
    evidence = SimpleNamespace(candidates=[SimpleNamespace(features=features)] * 2)
    question = Question(question_id, "?", ("x",) if answerable else ())
    return Example(question, evidence, (answerable, False))  # type: ignore[arg-type]  # decide is faked


def test_the_threshold_is_chosen_on_the_threshold_sets_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fitted on questions read with surer logits (every answer at 0.2, the one unanswerable at 0.1), the
    threshold would be 0.2; on new questions the unanswerable ones reach 0.6, so there it is 0.8."""
    confidences = {"f": (0.2, 0.1), "t": (0.8, 0.6)}  # (answerable, unanswerable) by the set's initial

    def fake_decide(examples: list[Example], model: Any, features: FeatureSet = LEXICAL, **_: Any) -> list[Decision]:
        out = []
        for e in examples:
            answerable = e.question.answerable
            confidence = confidences[e.question.id[0]][0 if answerable else 1]
            out.append(Decision(confidence, answerable, answerable, (confidence,) * len(features.evidence)))
        return out

    monkeypatch.setattr(training, "decide", fake_decide)
    fitted = [_with_candidates(f"f{i}", answerable=i != 0) for i in range(5)]
    new = [_with_candidates(f"t{i}", answerable=i < 2) for i in range(8)]
    assert training.fit(fitted, "fit", false_answer_cost=0.5).threshold == 0.2
    assert training.fit(fitted, "fit", false_answer_cost=0.5, threshold_on=new).threshold == 0.8
    # floors still hold, at confidences the threshold sets never reach: keeping every answer of
    # the fitted set brings it down to 0.2 or below, not to the new questions' lowest (0.5)
    kept = training.fit(fitted, "fit", false_answer_cost=0.5, threshold_on=new, floors=[(fitted, 1.0)])
    assert kept.threshold <= 0.2


def test_fit_sets_fits_on_the_tuning_sets_and_chooses_the_threshold_on_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from app.answer.model import AnswerModel
    from app.tuning.sets import Fitting, fit_sets

    calls: list[dict[str, Any]] = []

    def fake_fit(examples: list[Example], trained_on: str, **kwargs: Any) -> Any:
        calls.append({"fitted": [e.question.id for e in examples], **kwargs})
        return AnswerModel.untrained()

    monkeypatch.setattr(training, "fit", fake_fit)
    seed = [_example("s0", answerable=True)]
    unseen = [_example(f"u{i}", answerable=i % 2 == 0) for i in range(4)]
    floors = {Path("unseen"): 0.7, Path("seed"): 0.9}
    fit_sets({Path("seed"): seed}, floors, "seed", "e5", Fitting(), {Path("unseen"): unseen})
    (call,) = calls
    assert call["fitted"] == ["s0"]
    assert [e.question.id for e in call["threshold_on"]] == ["u0", "u1", "u2", "u3"]
    assert sorted(([e.question.id for e in s], rate) for s, rate in call["floors"]) == [
        (["s0"], 0.9),
        (["u0", "u1", "u2", "u3"], 0.7),
    ]
