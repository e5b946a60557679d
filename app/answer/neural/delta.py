"""The reader's delta file: the fitted tensors (fp16, npz: no pickle) and its model card.

``reader-delta.npz`` holds the tensors and, under ``__card__``, the card as JSON: the recipe
(which layers are adapted, the adapter rank), the base weights' sha256, the data it was
fitted on and its held-out figures. One file, so the card can never belong to other weights.

An ensemble file (``troly ensemble-reader``) holds several trainings the same way: their cards
as a JSON list under ``__members__`` and member ``i``'s tensors as ``i/<name>``. It is still one
file, so settings, the bench and backups name it as they name a single delta.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import ReaderUnavailable

DEFAULT_DELTA_PATH = Path(__file__).with_name("reader-delta.npz")
_CARD = "__card__"
_MEMBERS = "__members__"


@dataclass(frozen=True)
class Recipe:
    adapt_from: int = 8  # the first adapted layer (0-based): layers below stay frozen
    rank: int = 16
    alpha: float = 32.0
    candidates: int = 5  # sentences per question in training: its answers and the hardest others
    steps: int = 0
    questions_per_step: int = 8
    learning_rate: float = 5e-4
    seed: int = 13
    # The weight of the lexical ranker's score (log-odds, less the question's best) added to the
    # model's logit, in training and at question time: above 0 the model learns what word overlap
    # misses instead of learning overlap again (docs/quality.md, the lexical prior).
    lexical_prior: float = 0.0
    # What the frozen layers were computed in while training (TROLY_READER_PRECISION): bf16 on a
    # CPU with bf16 kernels, fp32 elsewhere. Cards from before it was recorded were trained in bf16.
    frozen_layers: str = "bf16"


@dataclass(frozen=True)
class Card:
    recipe: Recipe
    base_sha256: str
    trained_on: list[str] = field(default_factory=list)  # the question sets, with their parts
    licences: list[str] = field(default_factory=list)
    command: str = ""
    figures: dict[str, Any] = field(default_factory=dict)  # filled by the held-out evaluation
    # The card of the delta this one was trained on from (``troly train-reader --continue-from``):
    # what it was fitted on before ``trained_on``, and how.
    continued_from: Card | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def check_base(self, sha256: str) -> None:
        """Refuses base weights other than those the delta was fitted on: it would read garbage."""
        if self.base_sha256 != sha256:
            raise ReaderUnavailable(
                f"the reader delta was fitted on other base weights (sha256 {self.base_sha256[:12]}…) than "
                f"these ({sha256[:12]}…): refit it with `troly train-reader`"
            )

    @classmethod
    def from_json(cls, text: str) -> Card:
        raw = json.loads(text)
        return cls(
            recipe=Recipe(**raw["recipe"]),
            base_sha256=str(raw["base_sha256"]),
            trained_on=list(raw.get("trained_on", [])),
            licences=list(raw.get("licences", [])),
            command=str(raw.get("command", "")),
            figures=dict(raw.get("figures", {})),
            continued_from=cls.from_json(json.dumps(raw["continued_from"])) if raw.get("continued_from") else None,
        )


@dataclass(frozen=True)
class Delta:
    card: Card
    tensors: dict[str, np.ndarray]  # parameter name → values (float32 once loaded)


def _write(path: Path, arrays: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)


def _json_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def save_delta(path: Path, delta: Delta) -> None:
    arrays: dict[str, Any] = {name: values.astype(np.float16) for name, values in delta.tensors.items()}
    arrays[_CARD] = _json_bytes(delta.card.to_json())
    _write(path, arrays)


def check_ensemble(members: Sequence[Delta]) -> None:
    """Refuses trainings that cannot be averaged: their logits are averaged and the lexical prior
    added once, and the frozen bottom layers run once for all of them."""
    if len(members) < 2:
        raise ReaderUnavailable("an ensemble needs at least two reader deltas")
    first = members[0].card
    for other in members[1:]:
        card = other.card
        if card.base_sha256 != first.base_sha256:
            raise ReaderUnavailable("the ensemble's deltas were fitted on different base weights")
        if card.recipe.adapt_from != first.recipe.adapt_from:
            raise ReaderUnavailable(
                f"the ensemble's deltas adapt different layers (from {first.recipe.adapt_from} and "
                f"{card.recipe.adapt_from}): their frozen bottom layers must be the same"
            )
        if card.recipe.lexical_prior != first.recipe.lexical_prior:
            raise ReaderUnavailable(
                f"the ensemble's deltas were trained with different lexical priors ({first.recipe.lexical_prior} "
                f"and {card.recipe.lexical_prior}): their logits do not mean the same"
            )


def save_ensemble(path: Path, members: Sequence[Delta]) -> None:
    check_ensemble(members)
    arrays: dict[str, Any] = {
        f"{i}/{name}": values.astype(np.float16) for i, m in enumerate(members) for name, values in m.tensors.items()
    }
    arrays[_MEMBERS] = _json_bytes(json.dumps([json.loads(m.card.to_json()) for m in members], ensure_ascii=False))
    _write(path, arrays)


def load_deltas(path: Path = DEFAULT_DELTA_PATH) -> list[Delta]:
    """The trainings a delta file holds: one for a file of ``troly train-reader``, two or more for
    an ensemble."""
    if not path.is_file():
        raise ReaderUnavailable(f"no reader delta at {path}: fit one with `troly train-reader`")
    try:
        with np.load(path, allow_pickle=False) as data:
            if _MEMBERS not in data.files:
                card = Card.from_json(bytes(data[_CARD]).decode("utf-8"))
                return [Delta(card, {name: data[name].astype(np.float32) for name in data.files if name != _CARD})]
            cards = [Card.from_json(json.dumps(c)) for c in json.loads(bytes(data[_MEMBERS]).decode("utf-8"))]
            tensors: list[dict[str, np.ndarray]] = [{} for _ in cards]
            for name in data.files:
                if name != _MEMBERS:
                    member, _, tensor = name.partition("/")
                    if not member.isdigit() or int(member) >= len(cards) or not tensor:
                        raise ValueError(f"{name!r} names no member of {len(cards)}")
                    tensors[int(member)][tensor] = data[name].astype(np.float32)
            if not all(tensors):
                raise ValueError("a member holds no tensors")
    # An npz is a zip: an empty or cut-off file raises EOFError, a damaged one BadZipFile or zlib.error.
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ReaderUnavailable(f"{path} is not a reader delta ({exc})") from exc
    members = [Delta(card, t) for card, t in zip(cards, tensors, strict=True)]
    try:
        check_ensemble(members)
    except ReaderUnavailable as exc:
        raise ReaderUnavailable(f"{path}: {exc.message}") from exc
    return members


def load_delta(path: Path = DEFAULT_DELTA_PATH) -> Delta:
    """One training's delta; an ensemble file is refused (its members are read by ``load_deltas``)."""
    members = load_deltas(path)
    if len(members) > 1:
        raise ReaderUnavailable(f"{path} is an ensemble of {len(members)} reader deltas, not one")
    return members[0]
