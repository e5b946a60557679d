"""Officials: who holds an office, as a question asks it and as a sentence names it.

A question asking who holds an office ("Ai là Giám đốc Sở TT&TT Ninh Bình?") is answered only
by a sentence that names that office. One naming only its deputy ("ông Đặng Tùng Anh, Phó
Giám đốc Sở…") or no official of it at all ("Cục Viễn thông sẽ…" for the Cục trưởng) speaks of
another person, however many words it shares with the question (``mismatch.py``).
"""

from __future__ import annotations

import re

# Titles of an office's holder. A deputy's is "phó" and the title; a longer title is another
# office ("tổng giám đốc" is not "giám đốc"), so the alternation tries the longer ones first.
OFFICES = (
    "bộ trưởng",
    "thứ trưởng",
    "tổng cục trưởng",
    "cục trưởng",
    "vụ trưởng",
    "viện trưởng",
    "tổng giám đốc",
    "giám đốc",
    "chủ tịch",
    "tổng thống",
    "thủ tướng",
    "tổng bí thư",
    "bí thư",
    "chánh văn phòng",
    "chánh thanh tra",
    "trưởng ban",
    "trưởng phòng",
    "trưởng đại diện",
    "thống đốc",
    "hiệu trưởng",
    "chủ nhiệm",
    "tổng biên tập",
)
_TITLE = "|".join(sorted(OFFICES, key=len, reverse=True))
# Text is normalised (single spaces) and lower-cased before these apply.
_NAMED = re.compile(rf"(?<!\w)(phó )?({_TITLE})(?!\w)")
_WHO_HOLDS = (
    # "Ai là Cục trưởng Cục Viễn thông?", "Hiện nay, ai đang là Phó Thủ tướng…?"
    re.compile(rf"^(?:hiện nay,? )?ai (?:là|đang là|hiện là|hiện đang là|giữ chức) (?:tân )?(phó )?({_TITLE})(?!\w)"),
    # "Cục trưởng Cục Viễn thông là ai?", "Phó chủ tịch của IPCC là ai?"
    re.compile(rf"^(?:hiện nay,? )?(?:tân )?(phó )?({_TITLE})(?!\w).* là ai ?\??$"),
)

Office = tuple[bool, str]  # (a deputy?, the title): (True, "giám đốc") is a Phó Giám đốc


def asked_office(question: str) -> Office | None:
    """The office whose holder the question asks for, if it asks who holds one."""
    lowered = question.lower()
    for pattern in _WHO_HOLDS:
        if found := pattern.match(lowered):
            return found.group(1) is not None, found.group(2)
    return None


def named_offices(text: str) -> frozenset[Office]:
    """Every office the text names, a deputy's apart: "Phó Tổng Giám đốc" is (True, "tổng giám đốc")."""
    return frozenset((bool(deputy), title) for deputy, title in _NAMED.findall(text.lower()))


def office_unnamed(question: str, answer: str) -> bool:
    """True when the question asks who holds an office and the answer never names that office
    (its deputy's title is another one). Abbreviations ("GĐ Sở") and paraphrases ("người đứng
    đầu") are not recognised, so such an answer is abstained on: a false abstention, the safer
    mistake for a question about who is in charge."""
    asked = asked_office(question)
    return asked is not None and asked not in named_offices(answer)
