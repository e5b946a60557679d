"""The fitted weights of the sentence ranker and of the confidence that decides abstention."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from app.answer.features import LEXICAL, FeatureSet

DEFAULT_MODEL_PATH = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class LinearModel:
    weights: tuple[float, ...]
    bias: float

    def __call__(self, features: tuple[float, ...]) -> float:
        return self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))


@dataclass(frozen=True)
class AnswerModel:
    sentence: LinearModel
    confidence: LinearModel
    # The threshold the calibration recommends; settings may override it.
    threshold: float
    trained_on: str
    # Answer with the runner-up sentence too when its score is within this gap of the best.
    second_sentence_gap: float = 0.0
    # The embedder whose similarities the weights were fitted on: its cosine scale is in them.
    embedder: str = ""

    @classmethod
    def untrained(cls, features: FeatureSet = LEXICAL) -> AnswerModel:
        """All weights zero: enough to collect the candidates and features that tuning fits on,
        so that tuning never needs a model of the current feature set to exist."""
        return cls(
            sentence=LinearModel((0.0,) * len(features.sentence), 0.0),
            confidence=LinearModel((0.0,) * len(features.evidence), 0.0),
            threshold=0.5,
            trained_on="",
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH, features: FeatureSet = LEXICAL) -> AnswerModel:
        """``features``: the reader's feature set, which the file must have been fitted on."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        sentence = raw["sentence"]
        confidence = raw["confidence"]
        if tuple(sentence["features"]) != features.sentence or tuple(confidence["features"]) != features.evidence:
            raise ValueError(f"{path}: feature names do not match this version of troly; run `troly tune`")
        return cls(
            sentence=LinearModel(tuple(sentence["weights"]), float(sentence["bias"])),
            confidence=LinearModel(tuple(confidence["weights"]), float(confidence["bias"])),
            threshold=float(raw["threshold"]),
            trained_on=str(raw.get("trained_on", "")),
            second_sentence_gap=float(raw.get("second_sentence_gap", 0.0)),
            embedder=str(raw.get("embedder", "")),
        )

    def save(self, path: Path, features: FeatureSet = LEXICAL) -> None:
        raw = {
            "trained_on": self.trained_on,
            "threshold": self.threshold,
            "second_sentence_gap": self.second_sentence_gap,
            "embedder": self.embedder,
            "reader": features.name,
            "sentence": {"features": list(features.sentence), **asdict(self.sentence)},
            "confidence": {"features": list(features.evidence), **asdict(self.confidence)},
        }
        path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
