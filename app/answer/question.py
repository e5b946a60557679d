"""What a question asks for: its content words, the numbers and names it pins down, its type."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import Enum

from app.text.tokens import syllables

# Function words and question words: they say how something is asked, not what about.
STOPWORDS = frozenset(
    (
        "ai bao bởi các cái cho chưa có của cùng đã đang đâu để đến đó được gì hay hãy hoặc khi không là làm lại "
        "lúc mà mấy một này nào nên nhiêu như những nơi ở ra rằng rồi sao sẽ tại theo thế thì trong từ và vào về "
        "vì với vậy bị hơn nhất cũng chỉ đều"
    ).split()
)
_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-ZĐÀ-Ỹ][\wÀ-ỹ]*", re.UNICODE)


class AnswerType(Enum):
    NUMBER = "number"
    TIME = "time"
    PERSON = "person"
    PLACE = "place"
    OTHER = "other"


_TYPE_CUES: list[tuple[AnswerType, re.Pattern[str]]] = [
    (
        AnswerType.TIME,
        re.compile(
            r"\b(khi nào|bao giờ|lúc nào|năm nào|năm bao nhiêu|ngày nào|tháng nào|thời gian nào"
            r"|thời điểm nào|ngày bao nhiêu)\b"
        ),
    ),
    (AnswerType.NUMBER, re.compile(r"\b(bao nhiêu|mấy|số lượng|tỷ lệ|bao lâu|phần trăm)\b")),
    (AnswerType.PERSON, re.compile(r"(^|\s)(ai|người nào|vị nào)(\s|\?|$)")),
    (AnswerType.PLACE, re.compile(r"\b(ở đâu|nơi nào|tại đâu|đâu)\b")),
]


# "không bao giờ" (never) is not a question about time.
_NEVER = re.compile(r"\b(?:không|chưa|chẳng) bao giờ\b")


@dataclass(frozen=True)
class QuestionProfile:
    text: str
    terms: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    numbers: tuple[str, ...]
    names: tuple[str, ...]
    answer_type: AnswerType


def number_pattern(number: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\d.,]){re.escape(number)}(?![\d]|[.,]\d)")


def profile(question: str) -> QuestionProfile:
    """``question`` must already be normalised."""
    lowered = question.lower()
    sylls = syllables(question)
    content = [s for s in sylls if s not in STOPWORDS]
    typed = _NEVER.sub(" ", lowered)
    answer_type = next((t for t, cue in _TYPE_CUES if cue.search(typed)), AnswerType.OTHER)
    names = tuple(dict.fromkeys(m.group(0) for m in _CAPITALISED.finditer(question)))
    return QuestionProfile(
        text=question,
        terms=frozenset(content),
        bigrams=frozenset(itertools.pairwise(sylls)),
        numbers=tuple(dict.fromkeys(_NUMBER.findall(question))),
        names=names,
        answer_type=answer_type,
    )
