"""The time-consistency signal of the abstention confidence (docs/quality.md)."""

from __future__ import annotations

import pytest

from app.answer.periods import time_conflict
from app.text.normalize import normalize

PASSAGE = (
    "Số liệu tháng 7/2023: - Tấn công mạng tháng 7/2023 là 836 cuộc, giảm 15% so với cùng kỳ tháng 7/2022. "
    "- Doanh thu dịch vụ bưu chính ước đạt 4.900 tỷ đồng, tăng 2% so với tháng 6/2023."
)
ATTACKS = "- Tấn công mạng tháng 7/2023 là 836 cuộc, giảm 15% so với cùng kỳ tháng 7/2022."
POST = "- Doanh thu dịch vụ bưu chính ước đạt 4.900 tỷ đồng, tăng 2% so với tháng 6/2023."


@pytest.mark.parametrize(
    ("question", "answer", "context", "conflict"),
    [
        # Another month of the same year: the neighbouring month's figure is not an answer.
        ("Số cuộc tấn công mạng trong tháng 6/2023 là bao nhiêu?", ATTACKS, ATTACKS, 1.0),
        ("Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", ATTACKS, PASSAGE, 0.0),
        # A period named only as the point of comparison is not what the sentence reports on.
        ("Doanh thu dịch vụ bưu chính tháng 6/2023 là bao nhiêu?", POST, POST, 0.0),
        ("Doanh thu dịch vụ bưu chính tháng 8/2023 là bao nhiêu?", ATTACKS, ATTACKS, 1.0),
        # The asked period heads the passage: the sentences below speak of it.
        ("Doanh thu bưu chính tháng 7/2023 đạt bao nhiêu?", POST, PASSAGE, 0.0),
        # Quarters, written as Roman or Arabic numerals.
        (
            "Tỷ trọng kinh tế số/GDP trong Quý I/2023 ước đạt bao nhiêu?",
            "- Tỷ trọng kinh tế số/GDP Quý 2 năm 2023 ước tính đạt 15,26%.",
            "Kết quả Quý 2 năm 2023. - Tỷ trọng kinh tế số/GDP Quý 2 năm 2023 ước tính đạt 15,26%.",
            1.0,
        ),
        (
            "Tỷ trọng kinh tế số/GDP Quý II/2023 ước đạt bao nhiêu?",
            "- Tỷ trọng kinh tế số/GDP Quý 2 năm 2023 ước tính đạt 15,26%.",
            "- Tỷ trọng kinh tế số/GDP Quý 2 năm 2023 ước tính đạt 15,26%.",
            0.0,
        ),
        # Years alone.
        (
            "Tổng số lao động ngành năm 2021 là bao nhiêu?",
            "- Tổng số lao động tính đến tháng 06/2024 ước khoảng 1.530.719 lao động.",
            "- Tổng số lao động tính đến tháng 06/2024 ước khoảng 1.530.719 lao động.",
            1.0,
        ),
        # No period in the question, or none in the answer: nothing to contradict.
        ("Tấn công mạng là bao nhiêu cuộc?", ATTACKS, PASSAGE, 0.0),
        ("Năm 2021 Bộ yêu cầu gì về báo cáo?", "Không nhận báo cáo giấy.", "Không nhận báo cáo giấy.", 0.0),
    ],
)
def test_time_conflict(question: str, answer: str, context: str, conflict: float) -> None:
    assert time_conflict(normalize(question), normalize(answer), normalize(context)) == conflict
