"""Repairs for artefacts of collected news texts (see shared seeds: headers, placeholders, captions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.text.normalize import normalize

_DATE_HEADER = re.compile(r"^\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)\b[ \t]*")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# A photo caption ends with its credit: "... tại Hội nghị. Ảnh Bộ TT&TT." / "(Ảnh: VGP)".
# The credit names a source, so it starts with a capital ("Ảnh hưởng ..." is not a credit).
_PHOTO_CREDIT = re.compile(r"(?:^|[.(]\s*)Ảnh\s*:?\s*[A-ZĐÀ-Ỹ0-9][^.]{0,40}\.?\)?$")
_CAPTION_MAX_CHARS = 250


@dataclass(frozen=True)
class CleanText:
    text: str
    date: str | None


def _is_photo_caption(line: str) -> bool:
    return len(line) <= _CAPTION_MAX_CHARS and bool(_PHOTO_CREDIT.search(line))


def clean(raw: str) -> CleanText:
    """Normalise a document and strip collection artefacts; the result is the stored text."""
    text = normalize(raw)
    date = None
    header = _DATE_HEADER.match(text)
    if header:
        date = header.group(1)
        text = text[header.end() :]
    text = _PLACEHOLDER.sub("", text)
    lines = [line.strip() for line in text.split("\n")]
    kept = [line for line in lines if not _is_photo_caption(line)]
    # Paragraphs are separated by exactly one blank line, whatever the source used.
    text = "\n\n".join(line for line in kept if line)
    return CleanText(text=text, date=date)
