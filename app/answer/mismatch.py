"""Answers to another question: a sentence can share every word of the question and still
speak of another period (7/2023 for 6/2023) or another variant of the thing asked about (2G
for 3G, MPEG-2 for MPEG-3). Such an answer is a false answer whatever the reader's
confidence, so the reader abstains on it (``app.answer.extract.judge``); docs/quality.md
measures what this guard catches on the tuning parts and what it costs.
"""

from __future__ import annotations

import re

from app.answer.periods import period_clash

# A name made of capital letters and digits: "3G", "MPEG-2", "IPv6", "H5N1". Lower-case units
# ("100km") are left out: a different figure with the same unit is the reader's business.
_CODE = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-ZĐ])[\w-]*[^\W_](?![\w-])")
_DIGITS = re.compile(r"\d+")


def _shape(code: str) -> str:
    return _DIGITS.sub("#", code.lower())


def variant_clash(question: str, answer: str) -> bool:
    """True when the question names a code ("3G") that the answer lacks while the answer names
    another of the same shape ("2G"): the same kind of thing, another one of it."""
    given = {code.lower() for code in _CODE.findall(answer)}
    for code in _CODE.findall(question):
        wanted = code.lower()
        if wanted not in given and any(_shape(other) == _shape(wanted) for other in given):
            return True
    return False


def answers_another_question(question: str, answer: str) -> bool:
    """The answer speaks of another period or another variant than the question asks about."""
    return period_clash(question, answer) or variant_clash(question, answer)
