"""Cutting a stored document text into passages along paragraph and sentence boundaries."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.text.sentences import sentence_spans

_HEADING_MAX_CHARS = 150
_TERMINAL = re.compile(r"[.!?…\"”»)]$")


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    opens_paragraph: bool
    # Headings, list leads and captions: short lines that belong with what follows them.
    sticky: bool


def _is_heading(line: str) -> bool:
    return len(line) <= _HEADING_MAX_CHARS and not _TERMINAL.search(line)


def _pieces(text: str, max_chars: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    for paragraph in re.finditer(r"[^\n]+", text):
        sticky = _is_heading(paragraph.group(0).strip())
        first = True
        for start, end in sentence_spans(text, paragraph.start(), paragraph.end()):
            # A run-on "sentence" longer than a passage is cut at white space.
            while end - start > max_chars:
                cut = text.rfind(" ", start, start + max_chars)
                cut = cut if cut > start else start + max_chars
                pieces.append(_Piece(start, cut, first, sticky))
                first = False
                start = cut + 1 if text[cut : cut + 1] == " " else cut
            pieces.append(_Piece(start, end, first, sticky))
            first = False
    return pieces


def passage_spans(text: str, max_chars: int = 600, min_chars: int = 250) -> list[tuple[int, int]]:
    """Spans of passages: whole paragraphs packed up to ``max_chars`` (plus the headings that lead them).

    A passage closes at a paragraph break once it holds ``min_chars``; a paragraph too long
    for one passage is split between sentences, the next passage repeating the last
    sentence (a small overlap). Headings and captions never end a passage or stand alone.
    """
    spans: list[tuple[int, int]] = []
    current: list[_Piece] = []
    for piece in _pieces(text, max_chars):
        # Only headings so far: they go with what follows, even past the size cap.
        if current and not all(p.sticky for p in current):
            too_long = piece.end - current[0].start > max_chars
            size = current[-1].end - current[0].start
            at_break = piece.opens_paragraph and size >= min_chars and not current[-1].sticky
            if too_long or at_break:
                carry: list[_Piece] = []
                while current[-1].sticky:
                    carry.insert(0, current.pop())
                spans.append((current[0].start, current[-1].end))
                overlap = [current[-1]] if too_long and not piece.opens_paragraph and not carry else []
                # The overlap is already in the passage just closed: drop it if it does not fit.
                current = carry if overlap and piece.end - overlap[0].start > max_chars else overlap + carry
        current.append(piece)
    if current:
        if spans and all(p.sticky for p in current):
            # A trailing byline or caption joins the passage before it.
            spans[-1] = (spans[-1][0], current[-1].end)
        else:
            spans.append((current[0].start, current[-1].end))
    return spans
