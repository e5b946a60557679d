"""Amounts of money: a question about revenue, profit or a budget asks for a sum of money,
and a sentence that gives none (subscribers, a percentage, a count) answers another question,
however many of the question's words it shares."""

from __future__ import annotations

import re

# "Doanh thu … đạt bao nhiêu?", "Nộp ngân sách nhà nước là bao nhiêu?", "Giá trúng đấu giá
# … là bao nhiêu?", "Mức phạt tiền … là bao nhiêu?": figures always written as sums in a
# sector's reports. ("Bao nhiêu tiền" and "chi phí" are left out: in other texts a sum is
# often written in words, "nửa gia sản", which no pattern here reads.)
_ASKS_A_SUM = re.compile(
    r"\b(?:doanh thu|lợi nhuận|nộp ngân sách|ngân sách nhà nước|kim ngạch|đóng góp vào gdp|vốn đầu tư"
    r"|giá trúng|giá khởi điểm|mức phạt|phạt tiền|số tiền)\b[^?]*\bbao nhiêu\b"
)
# What a question asks of the sum instead: its growth, share, rank or plan.
_ASKS_OF_THE_SUM = re.compile(
    r"phần trăm|%|tỷ lệ|tỷ trọng|(?:tăng|giảm) bao nhiêu|chiếm|bao nhiêu lần|hạng|kế hoạch|mục tiêu"
)
# "467.048 tỷ đồng", "72,9 tỷ USD", "1,71 triệu tỷ", "390 tỷ" ("tỷ lệ", "tỷ trọng" are no sum).
_SUM = re.compile(
    r"\d[\d.,]*\s*(?:(?:nghìn|ngàn|triệu|tỷ|tỉ)\s+)*(?:đồng|usd|vnđ|vnd|đô la|euro|bảng|yên|nhân dân tệ)\b"
    r"|\d[\d.,]*\s*(?:(?:nghìn|ngàn|triệu)\s+)?(?:tỷ|tỉ)(?!\s*(?:lệ|trọng))\b"
    r"|[$€£¥]\s*\d"
)


def sum_missing(question: str, answer: str) -> bool:
    """True when the question asks for a sum of money and the answer names none."""
    asked = question.lower()
    return bool(_ASKS_A_SUM.search(asked)) and not _ASKS_OF_THE_SUM.search(asked) and not _SUM.search(answer.lower())
