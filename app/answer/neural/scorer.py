"""The cross-encoder behind a small interface: (question, sentence) pairs in, logits out.

One forward pass already uses every core (torch's intra-op threads), so concurrent questions
queue for the model instead of running side by side, which would only thrash the cores
and make every answer late: a semaphore bounds the passes in flight, and requests wait
their turn (docs/performance.md measures it at 1 and 8 clients).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.answer.neural.delta import DEFAULT_DELTA_PATH, Card, Delta, check_ensemble, load_deltas
from app.answer.neural.precision import Precision, uses_bf16
from app.answer.neural.tokenizer import E5Tokenizer, PairText
from app.answer.neural.weights import BaseWeights, read_base_weights
from app.errors import ReaderUnavailable

if TYPE_CHECKING:
    from app.answer.neural.encoder import CrossEncoder

log = logging.getLogger(__name__)


class PairScorer(Protocol):
    # The weight of the lexical prior the scorer was trained with (``Recipe.lexical_prior``):
    # its logits mean what they were trained to mean only with that prior added.
    lexical_prior: float

    def score(self, pairs: Sequence[PairText]) -> list[float]:
        """One logit per pair: how surely the sentence answers the question."""
        ...


class CrossEncoderScorer:
    """The cross-encoder of one delta, or an ensemble of several trainings (one delta file from
    ``troly ensemble-reader``) whose logits are averaged: averaging seeds takes out part of what
    one training's draw puts into its scores. Members share the frozen bottom layers, so each
    added member costs the adapted top layers only."""

    def __init__(
        self,
        weights: BaseWeights,
        deltas: Delta | Sequence[Delta],
        concurrency: int = 1,
        threads: int = 0,
        precision: Precision = "auto",
    ) -> None:
        import torch

        members = [deltas] if isinstance(deltas, Delta) else list(deltas)
        if len(members) > 1:
            check_ensemble(members)
        self.bf16 = uses_bf16(precision)
        self.models = [self._model(weights, delta, self.bf16) for delta in members]
        for model in self.models[1:]:
            model.share_bottom(self.models[0])
        self.cards: list[Card] = [delta.card for delta in members]
        self.lexical_prior = members[0].card.recipe.lexical_prior
        self.tokenizer = E5Tokenizer(weights)
        self._gate = threading.BoundedSemaphore(max(1, concurrency))
        if threads > 0:
            torch.set_num_threads(threads)

    @staticmethod
    def _model(weights: BaseWeights, delta: Delta, bf16: bool) -> CrossEncoder:
        from app.answer.neural.encoder import CrossEncoder, DeltaMismatch, Encoder

        delta.card.check_base(weights.sha256)
        r = delta.card.recipe
        model = CrossEncoder(Encoder.from_weights(weights), r.adapt_from, r.rank, r.alpha, bf16)
        try:
            model.load_fitted(delta.tensors)
        except DeltaMismatch as exc:
            raise ReaderUnavailable(
                f"the reader delta does not fit the model its recipe names ({exc}): refit it"
            ) from exc
        return model.for_serving()

    @classmethod
    def open(
        cls,
        delta_path: Path = DEFAULT_DELTA_PATH,
        concurrency: int = 1,
        threads: int = 0,
        precision: Precision = "auto",
    ) -> CrossEncoderScorer:
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise ReaderUnavailable("the neural reader needs torch: pip install 'troly[neural]'") from exc
        started = time.perf_counter()
        deltas = load_deltas(delta_path)  # first: a missing delta is known before 5 s of base weights
        scorer = cls(read_base_weights(), deltas, concurrency, threads, precision)
        log.info(
            "neural reader loaded in %.1f s (%s, %d member%s, %s)",
            time.perf_counter() - started,
            delta_path.name,
            len(deltas),
            "" if len(deltas) == 1 else "s",
            "bf16" if scorer.bf16 else "fp32",
        )
        return scorer

    def score(self, pairs: Sequence[PairText]) -> list[float]:
        if not pairs:
            return []
        import torch

        from app.answer.neural.encoder import pad_batch

        sequences = [self.tokenizer.pair(p) for p in pairs]
        ids, attention = pad_batch(sequences, self.tokenizer.pad)
        with self._gate, torch.inference_mode():
            shared = self.models[0].served_bottom(ids, attention)
            logits = torch.stack([m.served_top(shared, attention) for m in self.models]).mean(0)
        return [float(x) for x in logits.tolist()]
