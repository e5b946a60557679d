"""Amounts of money: a question about revenue, profit or a budget asks for a sum of money,
and a sentence that gives none (subscribers, a count) answers another question, however many
of the question's words it shares."""

from __future__ import annotations

import re

# "Doanh thu … đạt bao nhiêu?", "Nộp ngân sách nhà nước là bao nhiêu?", "Giá trúng đấu giá
# … là bao nhiêu?", "Mức phạt tiền … là bao nhiêu?": figures a sector's reports always write
# as sums, asked for as such ("bao nhiêu" ends the question: "bao nhiêu năm", "bao nhiêu dự
# án" count something else). "Bao nhiêu tiền" and "chi phí" are left out: in other texts a sum
# is often written in words ("nửa gia sản"), which no pattern here reads; and "đóng góp vào
# GDP" is as often a share ("14,26% GDP") as a sum.
_ASKS_A_SUM = re.compile(
    r"\b(?:doanh thu|lợi nhuận|nộp ngân sách|ngân sách nhà nước|kim ngạch|vốn đầu tư"
    r"|giá trúng|giá khởi điểm|mức phạt(?! tù)|phạt tiền|số tiền)\b[^?]*\bbao nhiêu\s*(?:\?|$)"
)
# What a question asks of the sum instead: its growth, share, rank, plan or comparison, or a
# count of things ("Số dự án có vốn đầu tư …", "Số người được nhận số tiền …").
_ASKS_OF_THE_SUM = re.compile(
    r"phần trăm|%|tỷ lệ|tỷ trọng|tỷ suất|biên|tăng trưởng|\b(?:tăng|giảm)\b|chiếm|\blần\b|\bthứ\b"
    r"|\bhạng\b(?! mục)|kế hoạch|mục tiêu|dự toán|so với|^(?:tổng\s+)?số\s+(?!tiền)"
)
# "467.048 tỷ đồng", "72,9 tỷ USD", "1,71 triệu tỷ", "390 tỷ", "500.000đ", "10 đến 20 triệu."
# ("tỷ lệ", "tỷ trọng", "18,5 triệu thuê bao", "2023 đồng thời" are no sums).
_SUM = re.compile(
    r"\d[\d.,]*\s*(?:(?:nghìn|ngàn|triệu|tỷ|tỉ)\s*)*(?:đồng(?!\s+(?:thời|chí|bộ|loạt|ý))|đ\b|usd|vnđ|vnd"
    r"|đô(?:\s*la)?\b|eur|euro|bảng|yên|won|nhân dân tệ)"
    r"|\d[\d.,]*\s*(?:(?:nghìn|ngàn|triệu)\s+)?(?:tỷ|tỉ)(?!\s*(?:lệ|trọng|suất))\b"
    r"|\d[\d.,]*\s*(?:nghìn|ngàn|triệu)(?=\s*(?:[.,;)]|$))"
    r"|[$€£¥]\s*\d"
)


def sum_missing(question: str, answer: str) -> bool:
    """True when the question asks for a sum of money (not its growth, share, rank or plan,
    nor a count of things) and the answer names none."""
    asked = question.lower().strip()
    return bool(_ASKS_A_SUM.search(asked)) and not _ASKS_OF_THE_SUM.search(asked) and not _SUM.search(answer.lower())
