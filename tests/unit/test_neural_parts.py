"""The neural reader's pieces that need no model: shortlist, features, loss, delta file, set syntax,
the re-reading of tuning questions."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
import torch
from one_passage import one_passage_evidence
from pydantic import ValidationError

from app.answer.evidence import Candidate, Evidence
from app.answer.features import NEURAL, reader_evidence
from app.answer.model import AnswerModel
from app.answer.neural.delta import Card, Delta, Recipe, load_delta, load_deltas, save_delta, save_ensemble
from app.answer.neural.precision import Precision, uses_bf16
from app.answer.neural.reader import NEURAL_MODEL_PATH, NeuralReader, read_shortlist, shortlist
from app.answer.neural.tokenizer import PairText
from app.cli.train_reader import TrainingSetType
from app.errors import ReaderUnavailable
from app.evaluation.dataset import Question
from app.settings import Settings
from app.tuning.neural_examples import with_reader
from app.tuning.reader_training import Group, _listwise_loss, continuation_recipe
from app.tuning.training import Example


def _candidate(text: str, logit: float = 0.0) -> Candidate:
    return Candidate(hit=0, start=0, end=len(text), text=text, features=(0.0,) * 9 + (logit,))


def test_the_shortlist_takes_the_best_lexical_candidates_each_text_once() -> None:
    candidates = [_candidate(t) for t in ("a", "b", "a", "c", "d")]
    assert shortlist(candidates, [0.9, 0.1, 0.8, 0.5, 0.7], 3) == [0, 4, 3]
    assert shortlist(candidates, [0.9, 0.1, 0.8, 0.5, 0.7], 10) == [0, 4, 3, 1]


def test_a_shortlist_margin_keeps_only_candidates_near_the_lexical_best() -> None:
    candidates = [_candidate(t) for t in ("a", "b", "a", "c", "d")]
    scores = [0.9, -3.0, 0.8, -1.5, 0.7]
    assert shortlist(candidates, scores, 6, margin=0.5) == [0, 4]  # "a" again is within, but read once
    assert shortlist(candidates, scores, 6, margin=2.3) == [0, 4]
    assert shortlist(candidates, scores, 6, margin=2.45) == [0, 4, 3]
    assert shortlist(candidates, scores, 2, margin=10.0) == [0, 4]  # the size still bounds it
    assert shortlist(candidates, scores, 6, margin=0.01) == [0]  # the best one is always read
    assert shortlist(candidates[:2], [1.0, 0.5], 6, margin=0.5) == [0, 1]  # on the floor is within
    assert shortlist([], [], 6, margin=1.0) == []
    with pytest.raises(ValueError, match="0 or more"):
        shortlist(candidates, scores, 6, margin=-1.0)  # would read nothing, not even the favourite


def test_reader_evidence_is_the_chosen_logit_and_the_log_odds_of_any_answer() -> None:
    candidates = [_candidate("a", 2.0), _candidate("b", -1.0)]
    chosen, anywhere = reader_evidence(candidates, 1)
    assert chosen == -1.0
    assert anywhere == pytest.approx(math.log(math.exp(2.0) + math.exp(-1.0)))
    assert len(NEURAL.evidence) == len(NEURAL.sentence) - 9 + 15 + 1


def test_the_loss_wants_the_answering_pair_or_none() -> None:
    answerable = Group(True, (False, True), ((1,), (2,)), prior=(0.0, -1.0))
    unanswerable = Group(False, (False, False), ((1,), (2,)), prior=(0.0, -1.0))
    right = torch.tensor([-3.0, 3.0])
    wrong = torch.tensor([3.0, -3.0])
    assert _listwise_loss(right, [answerable]) < _listwise_loss(wrong, [answerable])
    low, high = torch.tensor([-4.0, -4.0]), torch.tensor([4.0, 4.0])
    assert _listwise_loss(low, [unanswerable]) < _listwise_loss(high, [unanswerable])
    # -log P(none) with logits (0, -4, -4) against the "none" option of logit 0
    expected = math.log(1 + 2 * math.exp(-4.0))
    assert float(_listwise_loss(low, [unanswerable])) == pytest.approx(expected, rel=1e-5)


def test_the_loss_adds_the_lexical_prior_with_its_weight() -> None:
    # the answering pair is word overlap's favourite (prior 0), the other 3 log-odds behind it
    answerable = Group(True, (True, False), ((1,), (2,)), prior=(0.0, -3.0))
    even = torch.tensor([0.0, 0.0])
    assert float(_listwise_loss(even, [answerable])) == pytest.approx(math.log(3.0), rel=1e-5)
    # options (none 0, answer 0 + 0, other 0 - 3): the prior alone already favours the answer
    with_prior = float(_listwise_loss(even, [answerable], 1.0))
    assert with_prior == pytest.approx(math.log(2.0 + math.exp(-3.0)), rel=1e-5)
    halved = float(_listwise_loss(even, [answerable], 0.5))
    assert halved == pytest.approx(math.log(2.0 + math.exp(-1.5)), rel=1e-5)
    # the favourite's prior is 0, so "none" against the best pair is the reader's call alone
    unanswerable = Group(False, (False, False), ((1,), (2,)), prior=(0.0, -3.0))
    assert float(_listwise_loss(even, [unanswerable], 1.0)) == pytest.approx(math.log(2.0 + math.exp(-3.0)), rel=1e-5)


def test_a_delta_keeps_its_tensors_and_card(tmp_path: Path) -> None:
    tensors = {"head.0.weight": np.arange(6, dtype=np.float32).reshape(2, 3)}
    card = Card(
        Recipe(adapt_from=9, rank=4, lexical_prior=1.0),
        "ab" * 32,
        trained_on=["x.jsonl part 1/2"],
        command="troly train-reader",
    )
    path = tmp_path / "delta.npz"
    save_delta(path, Delta(card, tensors))
    loaded = load_delta(path)
    assert loaded.card == card
    np.testing.assert_array_equal(loaded.tensors["head.0.weight"], tensors["head.0.weight"])


def _member(seed: int, adapt_from: int = 4, lexical_prior: float = 1.0) -> Delta:
    rng = np.random.default_rng(seed)
    tensors = {"head.0.weight": rng.normal(size=(2, 3)).astype(np.float32), "head.2.bias": rng.normal(size=1)}
    recipe = Recipe(adapt_from=adapt_from, lexical_prior=lexical_prior, seed=seed)
    return Delta(Card(recipe, "ab" * 32), tensors)


def test_an_ensemble_file_keeps_each_members_tensors_and_card(tmp_path: Path) -> None:
    members = [_member(13), _member(14)]
    path = tmp_path / "ensemble.npz"
    save_ensemble(path, members)
    loaded = load_deltas(path)
    assert [m.card for m in loaded] == [m.card for m in members]
    for got, want in zip(loaded, members, strict=True):
        assert set(got.tensors) == set(want.tensors)
        for name, values in want.tensors.items():  # fp16 on disk, as a single delta
            np.testing.assert_allclose(got.tensors[name], values, rtol=1e-3, atol=1e-3)
    single = tmp_path / "single.npz"
    save_delta(single, members[0])
    assert [m.card for m in load_deltas(single)] == [members[0].card]
    with pytest.raises(ReaderUnavailable, match="is an ensemble of 2 reader deltas, not one"):
        load_delta(path)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (_member(14, adapt_from=8), "adapt different layers"),
        (_member(14, lexical_prior=0.5), "different lexical priors"),
    ],
    ids=["adapted-layers", "lexical-prior"],
)
def test_trainings_that_cannot_be_averaged_make_no_ensemble(tmp_path: Path, other: Delta, message: str) -> None:
    path = tmp_path / "ensemble.npz"
    with pytest.raises(ReaderUnavailable, match=message):
        save_ensemble(path, [_member(13), other])
    assert not path.exists()


def test_an_ensemble_needs_two_trainings_of_one_base(tmp_path: Path) -> None:
    path = tmp_path / "ensemble.npz"
    with pytest.raises(ReaderUnavailable, match="at least two"):
        save_ensemble(path, [_member(13)])
    other_base = _member(14)
    other_base = Delta(dataclasses.replace(other_base.card, base_sha256="cd" * 32), other_base.tensors)
    with pytest.raises(ReaderUnavailable, match="different base weights"):
        save_ensemble(path, [_member(13), other_base])
    assert not path.exists()


def test_a_continued_delta_keeps_the_card_it_went_on_from(tmp_path: Path) -> None:
    first = Card(Recipe(adapt_from=4, lexical_prior=1.0), "ab" * 32, trained_on=["x.jsonl part 1/2"], command="one")
    then = Card(
        Recipe(adapt_from=4, lexical_prior=1.0, learning_rate=2e-4), "ab" * 32, ["wiki.jsonl"], continued_from=first
    )
    path = tmp_path / "delta.npz"
    save_delta(path, Delta(then, _member(13).tensors))
    loaded = load_delta(path).card
    assert loaded == then and loaded.continued_from == first
    assert loaded.continued_from.trained_on == ["x.jsonl part 1/2"] and loaded.trained_on == ["wiki.jsonl"]
    assert Card.from_json(first.to_json()).continued_from is None  # a first training's card


def test_a_continued_training_is_the_model_it_goes_on_from_with_its_own_schedule() -> None:
    start = Card(Recipe(adapt_from=4, rank=8, alpha=16.0, candidates=6, steps=2879, lexical_prior=1.0), "ab" * 32)
    recipe = continuation_recipe(start, learning_rate=2e-4, questions_per_step=4, seed=7)
    assert (recipe.adapt_from, recipe.rank, recipe.alpha, recipe.candidates, recipe.lexical_prior) == (
        4,
        8,
        16.0,
        6,
        1.0,
    )
    assert (recipe.learning_rate, recipe.questions_per_step, recipe.seed, recipe.steps) == (2e-4, 4, 7, 0)


@pytest.mark.parametrize(
    "option", [["--rank", "8"], ["--adapt-from", "4"], ["--lexical-prior", "1"], ["--candidates", "5"]]
)
def test_train_reader_refuses_model_options_with_continue_from(tmp_path: Path, option: list[str]) -> None:
    """They would silently be ignored: a continued training is the model of its delta's card."""
    from click.testing import CliRunner

    from app.cli import main

    start, out = tmp_path / "r7.npz", tmp_path / "out.npz"
    save_delta(start, _member(13))
    questions = tmp_path / "q.jsonl"
    questions.write_text("")
    args = ["train-reader", "--on", f"{questions}={questions}", "--continue-from", str(start), "--out", str(out)]
    refused = CliRunner().invoke(main, [*args, *option])
    assert refused.exit_code == 2 and "takes these from the delta's card" in refused.output
    assert option[0] in refused.output and not out.exists()


def test_train_reader_refuses_an_ensemble_to_continue_from(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from app.cli import main

    ensemble, out = tmp_path / "ensemble.npz", tmp_path / "out.npz"
    save_ensemble(ensemble, [_member(13), _member(14)])
    questions = tmp_path / "q.jsonl"
    questions.write_text("")
    args = ["train-reader", "--on", f"{questions}={questions}", "--continue-from", str(ensemble), "--out", str(out)]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "is an ensemble of 2 reader deltas, not one" in refused.output
    assert not out.exists()


def test_a_card_from_before_the_lexical_prior_reads_as_without_one() -> None:
    old = json.loads(Card(Recipe(adapt_from=4), "ab" * 32).to_json())
    del old["recipe"]["lexical_prior"]
    assert Card.from_json(json.dumps(old)).recipe == Recipe(adapt_from=4, lexical_prior=0.0)


def test_a_card_from_before_the_precision_reads_as_trained_in_bf16() -> None:
    old = json.loads(Card(Recipe(adapt_from=4, frozen_layers="fp32"), "ab" * 32).to_json())
    assert Card.from_json(json.dumps(old)).recipe.frozen_layers == "fp32"
    del old["recipe"]["frozen_layers"]
    assert Card.from_json(json.dumps(old)).recipe.frozen_layers == "bf16"


def test_a_file_that_is_no_delta_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "delta.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ReaderUnavailable, match="is not a reader delta"):
        load_delta(path)
    with pytest.raises(ReaderUnavailable, match="troly train-reader"):
        load_delta(tmp_path / "missing.npz")


def test_training_sets_name_their_part(tmp_path: Path) -> None:
    questions, corpus = tmp_path / "q.jsonl", tmp_path / "c.jsonl"
    questions.write_text("")
    corpus.write_text("")
    parsed = TrainingSetType().convert(f"{questions}={corpus}:1/2", None, None)
    assert (parsed.questions, parsed.corpus, parsed.part) == (questions, corpus, "1/2")
    assert TrainingSetType().convert(f"{questions}={corpus}", None, None).part is None
    with pytest.raises(click.BadParameter, match="QUESTIONS=CORPUS"):
        TrainingSetType().convert(f"{questions}={tmp_path / 'nothing'}", None, None)


class _Constant:
    """A pair scorer that gives every pair the same logit."""

    def __init__(self, logit: float, lexical_prior: float = 0.0) -> None:
        self.logit = logit
        self.lexical_prior = lexical_prior

    def score(self, pairs: Sequence[PairText]) -> list[float]:
        return [self.logit] * len(pairs)


def test_each_tuning_question_is_read_by_the_scorer_chosen_for_it() -> None:
    evidence = one_passage_evidence(
        "Tấn công mạng tháng 7/2023 là 836 cuộc. Doanh thu bưu chính đạt 4.900 tỷ đồng.",
        "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?",
    )
    examples = [Example(Question(f"q{i}", evidence.profile.text, ("836 cuộc",)), evidence, ()) for i in range(6)]
    odd, even = _Constant(1.5), _Constant(-2.5)
    read = with_reader(examples, AnswerModel.untrained(), lambda q: odd if int(q.id[1:]) % 2 else even, 6)
    assert [ex.question.id for ex in read] == [f"q{i}" for i in range(6)]
    for i, ex in enumerate(read):
        assert {c.features[-1] for c in ex.evidence.candidates} == {1.5 if i % 2 else -2.5}
        assert ex.labels == tuple("836 cuộc" in c.text for c in ex.evidence.candidates)


def _three_sentences() -> Evidence:
    """The answer, a sentence on the same topic and one off it: three lexical scores apart."""
    return one_passage_evidence(
        "Tấn công mạng tháng 7/2023 là 836 cuộc. Tấn công mạng tháng 6/2023 giảm. "
        "Doanh thu bưu chính đạt 4.900 tỷ đồng.",
        "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?",
    )


def test_a_reader_trained_with_the_lexical_prior_reads_with_it() -> None:
    evidence = _three_sentences()
    q, hits, candidates = evidence.profile, evidence.hits, evidence.candidates
    lexical = AnswerModel.load()  # the shipped lexical ranker: its scores differ between these sentences
    scores = {c.text: lexical.sentence(c.features) for c in candidates}
    assert len(set(scores.values())) == len(scores) == 3

    plain = read_shortlist(q, hits, candidates, lexical, _Constant(0.5), 6)
    assert [c.features[-1] for c in plain] == [0.5] * 3
    read = read_shortlist(q, hits, candidates, lexical, _Constant(0.5, lexical_prior=2.0), 6)
    top = max(scores.values())
    assert [c.features[-1] for c in read] == pytest.approx([0.5 + 2.0 * (scores[c.text] - top) for c in read])
    assert max(c.features[-1] for c in read) == pytest.approx(0.5)  # the favourite's logit is the model's own
    assert read_shortlist(q, hits, [], lexical, _Constant(0.5, lexical_prior=2.0), 6) == []  # nothing retrieved


class _Recording(_Constant):
    """A constant scorer that keeps the sentences it was asked to read."""

    def __init__(self) -> None:
        super().__init__(0.5)
        self.read: list[str] = []

    def score(self, pairs: Sequence[PairText]) -> list[float]:
        self.read += [p.sentence for p in pairs]
        return super().score(pairs)


def test_with_a_margin_only_sentences_near_the_lexical_best_are_read_served_and_tuned() -> None:
    evidence = _three_sentences()
    q, hits, candidates = evidence.profile, evidence.hits, evidence.candidates
    lexical = AnswerModel.load()
    scores = sorted((lexical.sentence(c.features), c.text) for c in candidates)
    (third, _), (second, near), (best, favourite) = scores
    between = (best - second + best - third) / 2  # keeps the two best, not the third

    scorer = _Recording()
    short = read_shortlist(q, hits, candidates, lexical, scorer, 6, margin=between)
    assert scorer.read == [favourite, near] == [c.text for c in short]
    scorer.read.clear()
    read_shortlist(q, hits, candidates, lexical, scorer, 6)
    assert len(scorer.read) == 3  # no margin: the whole shortlist

    scorer.read.clear()
    reader = NeuralReader(lexical, AnswerModel.load(NEURAL_MODEL_PATH, NEURAL), scorer, shortlist_margin=between)
    answer = reader.read(q, hits, evidence.idf, lambda hit: evidence.periods[hit.passage.id])
    assert answer is not None and scorer.read == [favourite, near]  # as served

    example = Example(Question("q", q.text, ("836 cuộc",)), evidence, ())
    (tuned,) = with_reader([example], lexical, lambda _: _Constant(0.5), 6, margin=between)
    assert [c.text for c in tuned.evidence.candidates] == [favourite, near]


def test_the_ensemble_command_writes_one_file_or_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from app.cli import main

    first, second, out = tmp_path / "r13.npz", tmp_path / "r14.npz", tmp_path / "ensemble.npz"
    save_delta(first, _member(13))
    save_delta(second, _member(14))
    refused = CliRunner().invoke(main, ["ensemble-reader", str(first), "--out", str(out)])
    assert refused.exit_code == 2 and "at least two" in refused.output and not out.exists()
    made = CliRunner().invoke(main, ["ensemble-reader", str(first), str(second), "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert "2 readers" in made.output
    assert [m.card.recipe.seed for m in load_deltas(out)] == [13, 14]


def test_an_ensemble_file_is_read_strictly(tmp_path: Path) -> None:
    """A file not written by save_ensemble: members that cannot be averaged, or tensors that name
    no member, are refused with the file's name, not loaded into the wrong member."""
    cards = [json.loads(_member(13).card.to_json()), json.loads(_member(14, adapt_from=8).card.to_json())]
    members = np.frombuffer(json.dumps(cards).encode(), dtype=np.uint8)
    one = np.zeros((2, 3), dtype=np.float16)
    mismatched, misnamed = tmp_path / "mismatched.npz", tmp_path / "misnamed.npz"
    np.savez(mismatched, __members__=members, **{"0/head.0.weight": one, "1/head.0.weight": one})
    with pytest.raises(ReaderUnavailable, match=f"{mismatched}: .*adapt different layers"):
        load_deltas(mismatched)
    for name in ("-1/head.0.weight", "2/head.0.weight", "1_0/head.0.weight"):
        np.savez(misnamed, __members__=members, **{"0/head.0.weight": one, name: one})
        with pytest.raises(ReaderUnavailable, match="is not a reader delta"):
            load_deltas(misnamed)


def test_the_scorer_refuses_members_that_cannot_be_averaged_before_reading_weights() -> None:
    from app.answer.neural.scorer import CrossEncoderScorer

    with pytest.raises(ReaderUnavailable, match="adapt different layers"):
        CrossEncoderScorer(None, [_member(13), _member(14, adapt_from=8)])  # type: ignore[arg-type]


def test_the_ensemble_command_refuses_a_delta_twice_or_writing_over_one(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from app.cli import main

    first, second = tmp_path / "r13.npz", tmp_path / "r14.npz"
    save_delta(first, _member(13))
    save_delta(second, _member(14))
    before = first.read_bytes()
    twice = CliRunner().invoke(main, ["ensemble-reader", str(first), str(first), "--out", str(tmp_path / "e.npz")])
    assert twice.exit_code == 2 and "named twice" in twice.output and not (tmp_path / "e.npz").exists()
    over = CliRunner().invoke(main, ["ensemble-reader", str(first), str(second), "--out", str(first)])
    assert over.exit_code == 2 and "would be overwritten" in over.output and first.read_bytes() == before


def test_tune_loads_each_delta_once_for_the_fitted_and_the_threshold_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from app.answer.neural.scorer import CrossEncoderScorer
    from app.cli.tune import _read_shortlists

    opened: list[Path] = []

    def fake_open(path: Path, **_: object) -> _Constant:
        opened.append(path)
        return _Constant(1.0)

    monkeypatch.setattr(CrossEncoderScorer, "open", staticmethod(fake_open))
    evidence = one_passage_evidence("Tấn công mạng tháng 7/2023 là 836 cuộc.", "Tấn công mạng tháng 7/2023?")
    examples = [Example(Question("q0", evidence.profile.text, ("836 cuộc",)), evidence, ())]
    delta = tmp_path / "delta.npz"
    runtime = SimpleNamespace(settings=Settings(data_dir=tmp_path, reader_delta=delta))
    scorers: dict[Path, Any] = {}
    _read_shortlists(runtime, {Path("fitted"): examples}, (), scorers)  # type: ignore[arg-type]
    read = _read_shortlists(runtime, {Path("threshold"): examples}, (), scorers)  # type: ignore[arg-type]
    assert opened == [delta]
    assert {c.features[-1] for c in read[Path("threshold")][0].evidence.candidates} == {1.0}


def test_tune_reads_the_shortlist_the_service_is_told_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from app.answer.neural.scorer import CrossEncoderScorer
    from app.cli.tune import _read_shortlists

    monkeypatch.setattr(CrossEncoderScorer, "open", staticmethod(lambda path, **_: _Constant(1.0)))
    evidence = one_passage_evidence(
        "Tấn công mạng tháng 7/2023 là 836 cuộc. Doanh thu bưu chính đạt 4.900 tỷ đồng.",
        "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?",
    )
    examples = {Path("fitted"): [Example(Question("q0", evidence.profile.text, ("836 cuộc",)), evidence, ())]}

    def read(margin: float) -> int:
        runtime = SimpleNamespace(settings=Settings(data_dir=tmp_path, reader_shortlist_margin=margin))
        out = _read_shortlists(runtime, examples, (), {})  # type: ignore[arg-type]
        return len(out[Path("fitted")][0].evidence.candidates)

    assert read(math.inf) == 2 and read(0.01) == 1  # the favourite alone, as the service would read


@pytest.mark.parametrize(
    ("native", "precision", "bf16"),
    [
        (True, "auto", True),
        (False, "auto", False),
        (False, "bf16", True),
        (True, "fp32", False),
    ],
)
def test_the_reader_takes_bf16_only_where_the_cpu_has_its_kernels_unless_told(
    monkeypatch: pytest.MonkeyPatch, native: bool, precision: Precision, bf16: bool
) -> None:
    monkeypatch.setattr("app.answer.neural.precision.native_bf16", lambda: native)
    assert uses_bf16(precision) is bf16


def test_an_unknown_reader_precision_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROLY_READER_PRECISION", "fp16")
    with pytest.raises(ValidationError, match="reader_precision"):
        Settings()
    monkeypatch.setenv("TROLY_READER_PRECISION", "fp32")
    assert Settings().reader_precision == "fp32"
