"""Tokens for lexical matching: pyvi word segmentation plus the syllables of compound words.

Vietnamese words are written as space-separated syllables; pyvi joins the syllables of a
word with "_". Indexing both the words and their syllables keeps BM25 robust when a
question is segmented differently from the passage that answers it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from app.text.normalize import normalize

_TOKEN = re.compile(r"\w", re.UNICODE)
_SYLLABLE = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _tokenizer():  # type: ignore[no-untyped-def]
    # pyvi loads its CRF model on import; import lazily so importing troly stays cheap.
    from pyvi import ViTokenizer

    return ViTokenizer


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
