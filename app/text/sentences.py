"""Sentence boundaries in Vietnamese prose, as character spans."""

from __future__ import annotations

import re

# A boundary: sentence-final punctuation (plus closing quotes/brackets), white space,
# then something that can open a sentence.
_BOUNDARY = re.compile(r"(?<=[.!?…;])[\"”’»)\]]*\s+(?=[\"“‘«(\[\-–+•*]?\s*[^\W_a-zđ]|\d)", re.UNICODE)
# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"tp", "ths", "ts", "pgs", "gs", "bs", "th.s", "st", "mr", "mrs", "ms", "dr", "tr", "no", "v.v", "vs"}
)


def _ends_with_abbreviation(text: str) -> bool:
    word = text.rsplit(None, 1)[-1] if text.strip() else ""
    word = word.rstrip(".").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans ``(s, e)`` of the sentences of ``text[start:end]``, in ``text``'s coordinates.

    Line breaks always end a sentence; spans never include surrounding white space.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        cursor = line_start
        segment = line.group(0)
        for boundary in _BOUNDARY.finditer(segment):
            cut = line_start + boundary.start()
            if _ends_with_abbreviation(text[cursor:cut]):
                continue
            spans.append((cursor, cut))
            cursor = line_start + boundary.end()
        spans.append((cursor, line_start + len(segment)))
    return [(s, e) for s, e in (_trim(text, s, e) for s, e in spans) if e > s]


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e
