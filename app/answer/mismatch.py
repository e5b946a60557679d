"""Answers to another question: a sentence can share every word of the question and still
speak of another period (7/2023 for 6/2023, July for the seven months so far), another
variant of the thing asked about (2G for 3G, MPEG-2 for MPEG-3), another kind of figure
(subscribers for revenue, ``amounts.py``) or another official (the deputy director for the
director, ``offices.py``), or come from a document that never names the month or quarter
asked about. Such an answer is a false answer whatever the reader's confidence, so the
reader abstains on it (``app.answer.extract.judge``); docs/quality.md measures what this
guard catches on the tuning parts and what it costs.
"""

from __future__ import annotations

import re

from app.answer.amounts import sum_missing
from app.answer.offices import office_unnamed
from app.answer.periods import (
    Periods,
    month_for_running_total,
    month_or_quarter_unnamed,
    months_for_whole_year,
    period_clash,
)
from app.answer.question import AnswerType, QuestionProfile

# A name made of capital letters and digits: "3G", "MPEG-2", "IPv6", "H5N1". Lower-case units
# ("100km") are left out: a different figure with the same unit is the reader's business.
_CODE = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-ZĐ])[\w-]*[^\W_](?![\w-])")
_DIGITS = re.compile(r"\d+")


def _shape(code: str) -> str:
    return _DIGITS.sub("#", code.lower())


def variant_clash(question: str, answer: str) -> bool:
    """True when the answer names a code of the same shape as one the question names ("2G" for
    "3G") and none of the question's codes of that shape, in any case or hyphenated
    ("5G-Advanced" names 5G)."""
    given = {_shape(code) for code in _CODE.findall(answer)}
    asked: dict[str, list[str]] = {}
    for code in _CODE.findall(question):
        asked.setdefault(_shape(code), []).append(code)
    return any(shape in given and not any(_named(code, answer) for code in codes) for shape, codes in asked.items())


def _named(code: str, text: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(code)}(?![\w])", text, re.IGNORECASE) is not None


def answers_another_question(question: QuestionProfile, answer: str) -> bool:
    """The answer speaks of another variant than the question asks about or does not name the
    office whose holder it asks for; or, when the question does not ask about time, it speaks
    of another period or gives no sum of money where one is asked for; or, when the question
    asks for a figure, it gives the figure of another part of the year (one month's for the
    months so far, part of the year's for the whole of it)."""
    if variant_clash(question.text, answer) or office_unnamed(question.text, answer):
        return True
    if question.answer_type is AnswerType.TIME:
        return False
    if period_clash(question.text, answer) or sum_missing(question.text, answer):
        return True
    # Parts of a year matter to a figure; "who was appointed in the first 6 months" may well be
    # answered by "in June".
    return question.answer_type is AnswerType.NUMBER and (
        month_for_running_total(question.text, answer) or months_for_whole_year(question.text, answer)
    )


def document_misses_period(question: QuestionProfile, answer: str, document: Periods) -> bool:
    """The question names a month or a quarter that neither the answer nor its document names
    (``month_or_quarter_unnamed``). Questions about time are left out: their answer is another
    date by nature."""
    return question.answer_type is not AnswerType.TIME and month_or_quarter_unnamed(question.text, answer, document)
