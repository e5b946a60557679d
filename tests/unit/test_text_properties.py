"""Properties of the text pipeline over generated input (Hypothesis): the normaliser is idempotent,
sentence and passage spans stay inside their text and slice it back, no prose passage exceeds the cap."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import DocumentInput
from app.ingest.pipeline import prepare
from app.ingest.segment import passage_spans
from app.text.normalize import normalize
from app.text.sentences import sentence_spans

# Syllables in both tone placements and both encodings, numbers, abbreviations that do not end a sentence.
SYLLABLES = (
    "hoà hòa thuỷ thủy khoẻ khỏe Bộ Thông tin và Truyền thông năm 2023 đạt 90% câu hỏi trợ lý ảo TP. Hồ Chí Minh "
    "ThS. 1.250 quý gì ngoài mùa Đà Nẵng v.v. ( ) “trích” - Nguyễn ông A. ước"
).split()
VARIANTS = st.sampled_from(SYLLABLES).flatmap(
    lambda s: st.sampled_from([s, unicodedata.normalize("NFD", s), s.upper()])
)
TERMINALS = st.sampled_from([".", "!", "?", "…", ".”", "?)"])
SPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", " \u200b"])


@st.composite
def sentences(draw: st.DrawFn) -> str:
    words = draw(st.lists(VARIANTS, min_size=1, max_size=40))
    return " ".join(words) + draw(TERMINALS)


@st.composite
def prose(draw: st.DrawFn) -> str:
    """Paragraphs of sentences that end in punctuation: no line of it is a heading."""
    paragraphs = [
        draw(SPACE).join(draw(st.lists(sentences(), min_size=1, max_size=8))) for _ in range(draw(st.integers(1, 6)))
    ]
    return "".join(p + draw(st.sampled_from(["\n", "\n\n", "\r\n", " \n "])) for p in paragraphs)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Prose mixed with headings, captions and bylines: short lines without final punctuation."""
    lines = draw(st.lists(st.one_of(prose(), st.lists(VARIANTS, min_size=1, max_size=12).map(" ".join)), min_size=1))
    return "\n".join(lines)


ANY_TEXT = st.one_of(st.text(), prose(), documents())


@given(ANY_TEXT)
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(ANY_TEXT)
def test_sentences_are_ordered_trimmed_one_line_slices(text: str) -> None:
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        sentence = text[start:end]
        assert sentence == sentence.strip() and "\n" not in sentence
        previous_end = end


@given(ANY_TEXT, st.integers(100, 800), st.integers(0, 400))
def test_passages_are_ordered_trimmed_slices(text: str, max_chars: int, min_chars: int) -> None:
    text = normalize(text)
    spans = passage_spans(text, max_chars=max_chars, min_chars=min_chars)
    assert bool(spans) == bool(text.strip())
    previous_start = -1
    for start, end in spans:
        assert previous_start < start < end <= len(text)  # passages may overlap by a sentence, never repeat
        assert text[start:end] == text[start:end].strip()
        previous_start = start


@given(prose(), st.integers(100, 800), st.integers(0, 400))
def test_no_prose_passage_is_over_the_cap(text: str, max_chars: int, min_chars: int) -> None:
    # Prose only: a heading or caption stays with its paragraph even past the cap, by design.
    text = normalize(text)
    for start, end in passage_spans(text, max_chars=max_chars, min_chars=min_chars):
        assert end - start <= max_chars, text[start:end]


@settings(max_examples=30, deadline=None)  # prepare() tokenises every passage with pyvi
@given(st.one_of(prose(), documents()), st.integers(100, 800))
def test_stored_passages_slice_the_stored_text_back(text: str, max_chars: int) -> None:
    prepared = prepare("don-vi", DocumentInput("", text), max_chars=max_chars, min_chars=max_chars // 3)
    stored = prepared.document.text
    assert prepared.document.passages == len(prepared.passages)
    for seq, passage in enumerate(prepared.passages):
        assert passage.seq == seq
        assert stored[passage.start : passage.end] == passage.text
