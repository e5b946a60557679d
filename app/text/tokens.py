"""Tokens for lexical matching: pyvi word segmentation plus the syllables of compound words.

Vietnamese words are written as space-separated syllables; pyvi joins the syllables of a
word with "_". Indexing both the words and their syllables keeps BM25 robust when a
question is segmented differently from the passage that answers it.
"""

from __future__ import annotations

import contextlib
import os
import re
from functools import lru_cache
from pathlib import Path

from app.text.normalize import normalize

_TOKEN = re.compile(r"\w", re.UNICODE)
_SYLLABLE = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _tokenizer():  # type: ignore[no-untyped-def]
    # pyvi loads its CRF model on import; import lazily so importing troly stays cheap.
    from pyvi import ViTokenizer

    _drop_model_file(ViTokenizer.ViTokenizer.model)
    return ViTokenizer


def _drop_model_file(crf) -> None:  # type: ignore[no-untyped-def]
    """Unpickling pyvi's CRF (sklearn-crfsuite) writes the model to a new ``model*.crfsuite``
    file in the temporary directory, never removed, and keeps its descriptor open: 637 KB left
    behind by every process that tokenizes. Open the tagger now (crfsuite reads the file into
    memory), then remove the file and close the descriptor."""
    resource = getattr(crf, "modelfile", None)
    name = getattr(resource, "name", None)
    if resource is None or name is None or not getattr(resource, "auto", False):
        return  # not the temporary copy this works around (another pyvi or sklearn-crfsuite)
    crf.tagger_  # noqa: B018 - the property opens the model
    with contextlib.suppress(OSError):
        os.close(resource.fd)
    Path(name).unlink(missing_ok=True)


def syllables(text: str) -> list[str]:
    """Lowercased syllables (and numbers) of an already normalised text."""
    return _SYLLABLE.findall(text.lower())


def words(text: str) -> list[str]:
    """pyvi words of an already normalised text, lowercased, punctuation dropped."""
    segmented = _tokenizer().tokenize(text)
    return [tok.lower() for tok in segmented.split() if _TOKEN.search(tok)]


def index_tokens(text: str) -> list[str]:
    """Tokens BM25 indexes for a passage or a question: words, plus syllables of compounds."""
    out: list[str] = []
    for word in words(text):
        out.append(word)
        if "_" in word:
            out.extend(part for part in word.split("_") if part)
    return out


def question_tokens(question: str) -> list[str]:
    return index_tokens(normalize(question))
