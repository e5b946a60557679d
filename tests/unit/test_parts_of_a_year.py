"""The guard's rules for parts of a year: one month's figure is no answer to a question about
the months so far, nor part of a year to a question about the whole of it."""

from __future__ import annotations

import pytest

from app.answer.mismatch import answers_another_question
from app.answer.periods import month_for_running_total, months_for_whole_year, named_periods
from app.answer.question import profile
from app.text.normalize import normalize

JULY_REVENUE = "- Doanh thu tháng 7/2023 đạt 390 tỷ đồng, tăng 20% so với tháng 7/2022 (325 tỷ đồng)."
POSTAL = "- Sản lượng bưu gửi ước đạt 198 triệu bưu gửi, tăng xấp xỉ 1% so với tháng 6/2023."
RUNNING = "- Doanh thu 7 tháng đầu năm 2023 ước đạt 2.100 tỷ đồng, tăng 12% so với cùng kỳ."


@pytest.mark.parametrize(
    ("question", "answer", "clash"),
    [
        # The month's own figure, named or compared month against month.
        ("Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?", JULY_REVENUE, True),
        ("Sản lượng bưu gửi 7 tháng năm 2023 ước đạt bao nhiêu?", POSTAL, True),
        # The months so far, named as such or as a running total.
        ("Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?", RUNNING, False),
        ("Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?", "Tính đến hết tháng 7/2023, doanh thu đạt 2.100 tỷ.", False),
        ("Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?", "Lũy kế đến tháng 7/2023 doanh thu đạt 2.100 tỷ.", False),
        # A sentence that names no month is the reader's business.
        ("Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?", "Doanh thu ước đạt 2.100 tỷ đồng.", False),
        # The question asks about the month itself, or compares with the months so far.
        ("Doanh thu tháng 7/2023 đạt bao nhiêu?", JULY_REVENUE, False),
        ("Doanh thu tháng 7/2023 (7 tháng đầu năm 2023) đạt bao nhiêu?", JULY_REVENUE, False),
        ("Doanh thu tháng 7/2023 tăng bao nhiêu so với 6 tháng đầu năm 2023?", JULY_REVENUE, False),
        ("Trong 7 tháng đầu năm 2023, doanh thu riêng tháng 7 đạt bao nhiêu?", JULY_REVENUE, False),
        # Only the last month's own figure: a comparison with the end of last year says nothing.
        ("Số vụ tấn công 7 tháng đầu năm 2023 là bao nhiêu?", "Có 5.100 vụ, tăng 5% so với tháng 12/2022.", False),
        ("Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?", "Doanh thu tháng 5/2023 đạt 300 tỷ đồng.", False),
        # More ways of writing a running total.
        (
            "Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?",
            "Tính đến thời điểm tháng 7/2023, doanh thu đạt 2.100 tỷ.",
            False,
        ),
        (
            "Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?",
            "Tháng 1 - tháng 7/2023, doanh thu đạt 2.100 tỷ đồng.",
            False,
        ),
        (
            "Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?",
            "Lũy kế 2.100 tỷ đồng; riêng tháng 7/2023 đạt 390 tỷ.",
            False,
        ),
        (
            "Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?",
            "Từ đầu năm, tháng 7/2023 là tháng doanh thu cao nhất.",
            False,
        ),
        # What is counted at a month's end: the month's figure is the running one.
        ("Số thuê bao 5G 7 tháng đầu năm 2023 là bao nhiêu?", "Tháng 7/2023, số thuê bao 5G đạt 1,2 triệu.", False),
    ],
)
def test_one_month_for_the_months_so_far(question: str, answer: str, clash: bool) -> None:
    assert month_for_running_total(normalize(question), normalize(answer)) is clash


HALF_OF_PLAN = "Doanh thu 6 tháng đầu năm 2024 đạt 48% kế hoạch năm (981 tỷ)."
LABOUR = "- Tổng số lao động tính đến tháng 06/2024 ước khoảng 1.530.719 lao động, tăng 1,5% so với cùng kỳ."


@pytest.mark.parametrize(
    ("question", "answer", "clash"),
    [
        ("Tổng số lao động ngành tính đến cuối năm 2024 là bao nhiêu?", LABOUR, True),
        ("Doanh thu cả năm 2023 đạt bao nhiêu?", "Doanh thu 6 tháng đầu năm 2023 ước đạt 700 tỷ đồng.", True),
        # December is the end of the year; another year is period_clash's business.
        ("Tổng số lao động tính đến cuối năm 2024 là bao nhiêu?", "Đến tháng 12/2024 có 1,6 triệu lao động.", False),
        ("Tổng số lao động tính đến cuối năm 2023 là bao nhiêu?", LABOUR, False),
        # A whole-year figure stands beside the months so far.
        ("Kế hoạch doanh thu cả năm 2024 là bao nhiêu?", HALF_OF_PLAN, False),
        # A month of the year only as the point of comparison reports on no part of it.
        ("Doanh thu cả năm 2023 đạt bao nhiêu?", "Doanh thu năm 2023 tăng 5% so với tháng 6/2023.", False),
        # "năm 2024" alone may be asked of the months so far; a question naming a month is not about the whole year.
        ("Số lao động năm 2024 là bao nhiêu?", LABOUR, False),
        ("Số lao động tháng 6/2024 và cuối năm 2024 là bao nhiêu?", LABOUR, False),
        # The last months of a year, and an event late in it, are not the whole year.
        (
            "Trong 6 tháng cuối năm 2021, đã chặn bao nhiêu cuộc gọi?",
            "Từ tháng 7/2021 đến tháng 12/2021, đã chặn 30 triệu.",
            False,
        ),
        ("Trong những tháng cuối năm 2023, có bao nhiêu vụ?", "Tháng 10/2023 có 12 vụ.", False),
        (
            "Novell đã sa thải bao nhiêu nhân viên vào cuối năm 2005?",
            "Tháng 11 năm 2005, Novell sa thải 600 nhân viên.",
            False,
        ),
    ],
)
def test_part_of_the_year_for_the_whole_of_it(question: str, answer: str, clash: bool) -> None:
    assert months_for_whole_year(normalize(question), normalize(answer)) is clash


def test_parts_of_a_year_concern_questions_that_ask_for_a_figure() -> None:
    """Who was appointed in the first six months may well have been appointed in June."""
    who = profile(normalize("Trong 6 tháng đầu năm 2023, ai được bổ nhiệm làm Giám đốc Sở?"))
    answer = normalize("Tháng 6/2023, ông Nguyễn Văn A được bổ nhiệm làm Giám đốc Sở.")
    assert month_for_running_total(who.text, answer)
    assert not answers_another_question(who, answer)
    speaker = profile(normalize("Ai đọc diễn văn khai mạc kỳ họp cuối năm 1951?"))
    assert not answers_another_question(
        speaker, normalize("Tại phiên họp tháng 11 năm 1951, ông Simonds đọc diễn văn.")
    )


def test_the_guard_applies_both_rules_except_to_questions_about_time() -> None:
    assert answers_another_question(profile(normalize("Doanh thu 7 tháng đầu năm 2023 đạt bao nhiêu?")), JULY_REVENUE)
    assert answers_another_question(profile(normalize("Tổng số lao động đến cuối năm 2024 là bao nhiêu?")), LABOUR)
    # "When" is answered with a month by nature.
    when = profile(normalize("Trong 7 tháng đầu năm 2023, doanh thu đạt 390 tỷ đồng vào tháng nào?"))
    assert not answers_another_question(when, JULY_REVENUE)


@pytest.mark.parametrize(
    ("text", "months", "quarters"),
    [
        ("Nửa đầu năm 2021, doanh thu tăng.", {(6, "2021")}, set()),
        ("Sáu tháng đầu năm 2021, doanh thu tăng.", {(6, "2021")}, set()),
        ("Bảy tháng đầu năm 2023, doanh thu tăng.", {(7, "2023")}, set()),
        ("Năm tháng đầu năm 2023, doanh thu tăng.", {(5, "2023")}, set()),
        ("Quý đầu năm 2024, doanh thu tăng.", set(), {(1, "2024")}),
        ("Quý đầu tiên của năm 2023, doanh thu tăng.", set(), {(1, "2023")}),
        # Counted quarters and "mười hai" are no first quarter and no second month.
        ("Doanh thu 3 quý đầu năm 2023 tăng.", set(), set()),
        ("Doanh thu ba quý đầu năm 2023 tăng.", set(), set()),
        ("Doanh thu mười hai tháng đầu năm 2023 tăng.", set(), set()),
        # The second half and "mid-year" name no single month; a comparison names no period.
        ("Nửa cuối năm 2021, doanh thu tăng.", set(), set()),
        ("Giữa năm 2021, doanh thu tăng.", set(), set()),
        ("Doanh thu tăng 5% so với nửa đầu năm 2020.", set(), set()),
    ],
)
def test_periods_in_words_are_the_periods_in_figures(
    text: str, months: set[tuple[int, str]], quarters: set[tuple[int, str]]
) -> None:
    named = named_periods(normalize(text))
    assert (set(named.months), set(named.quarters)) == (months, quarters)


def test_months_so_far_in_words_are_not_answered_with_one_month() -> None:
    assert month_for_running_total(normalize("Doanh thu bảy tháng đầu năm 2023 đạt bao nhiêu?"), JULY_REVENUE)
