"""A question about a sum of money is not answered by a sentence that gives none."""

from __future__ import annotations

import pytest

from app.answer.amounts import sum_missing
from app.answer.mismatch import answers_another_question
from app.answer.question import profile
from app.text.normalize import normalize

SUBSCRIBERS = "- Tính đến tháng 7/2023, thuê bao truyền hình trả tiền đạt 18,5 triệu thuê bao, tăng 12,1%."


@pytest.mark.parametrize(
    ("question", "answer", "missing"),
    [
        ("Doanh thu dịch vụ truyền hình trả tiền tháng 7/2023 đạt bao nhiêu?", SUBSCRIBERS, True),
        ("Lợi nhuận của ngành năm 2023 là bao nhiêu?", "Lợi nhuận tăng mạnh so với cùng kỳ.", True),
        ("Vốn đầu tư của dự án là bao nhiêu?", "Dự án có 1.200 kỹ sư.", True),
        ("Doanh thu của hãng là bao nhiêu?", "Doanh thu đạt £779 năm 1639.", False),
        ("Giá trúng đấu giá khối băng tần C3 là bao nhiêu?", "Sắp tới sẽ đấu giá lại băng tần C3.", True),
        ("Mức phạt tiền đối với doanh nghiệp là bao nhiêu?", "Từ ngày 15/4/2024, doanh nghiệp chịu trách nhiệm.", True),
        ("Mức phạt tiền đối với doanh nghiệp là bao nhiêu?", "Mức phạt từ 100 đến 200 triệu đồng.", False),
        # Every way the reports write a sum.
        ("Doanh thu tháng 7/2023 đạt bao nhiêu?", "Doanh thu tháng 7/2023 đạt 390 tỷ đồng.", False),
        ("Doanh thu tháng 7/2023 đạt bao nhiêu?", "Doanh thu ước đạt 390 tỷ, tăng 20%.", False),
        ("Kim ngạch xuất khẩu đạt bao nhiêu?", "Kim ngạch xuất khẩu đạt 72,9 tỷ USD.", False),
        ("Doanh thu toàn ngành đạt bao nhiêu?", "Doanh thu đạt 1,71 triệu tỷ.", False),
        ("Nộp ngân sách nhà nước là bao nhiêu?", "Nộp ngân sách đạt 44.829 tỷ VNĐ.", False),
        # "tỷ lệ" and "tỷ trọng" are no sum...
        ("Doanh thu tháng 7/2023 đạt bao nhiêu?", "Tỷ lệ doanh thu số đạt 20%.", True),
        # ...and a question about the sum's growth, share, rank or plan asks for no sum.
        ("Doanh thu tăng bao nhiêu phần trăm?", "Doanh thu tăng 20%.", False),
        ("Doanh thu số chiếm bao nhiêu?", "Doanh thu số chiếm 6% tổng nguồn thu.", False),
        ("Doanh thu đạt bao nhiêu so với kế hoạch?", "Doanh thu đạt 47,6% kế hoạch năm.", False),
        ("Mức phạt đối với doanh nghiệp là bao nhiêu?", "Mức phạt từ 10 đến 20 triệu.", False),
        ("Giá khởi điểm là bao nhiêu?", "Giá khởi điểm 500.000đ/m2.", False),
        ("Doanh thu của hãng là bao nhiêu?", "Doanh thu đạt 5 triệu đô la.", False),
        # A year before "tỷ lệ" or "đồng thời" is no sum.
        ("Doanh thu năm 2023 là bao nhiêu?", "Năm 2023 tỷ lệ doanh thu số đạt 20%.", True),
        ("Doanh thu năm 2023 là bao nhiêu?", "Năm 2023 đồng thời tăng số thuê bao.", True),
        # Shares, comparisons, growth, counts and prison terms are asked for as such.
        ("Thu ngân sách nhà nước năm 2023 đạt bao nhiêu so với dự toán?", "Đạt 108,1% dự toán.", False),
        ("Doanh thu của Viettel tăng trưởng bao nhiêu?", "Doanh thu tăng trưởng 6%.", False),
        ("Số dự án có vốn đầu tư nước ngoài là bao nhiêu?", "Có 3.188 dự án.", False),
        ("Mức phạt tù cao nhất là bao nhiêu năm?", "Phạt tù đến 20 năm.", False),
        ("Doanh thu phòng vé của phim đứng thứ bao nhiêu?", "Phim đứng thứ 3.", False),
        # Not a question about money at all.
        ("Có bao nhiêu thuê bao truyền hình trả tiền?", SUBSCRIBERS, False),
    ],
)
def test_sum_missing(question: str, answer: str, missing: bool) -> None:
    assert sum_missing(normalize(question), normalize(answer)) is missing


def test_the_guard_abstains_on_subscribers_for_revenue() -> None:
    question = profile(normalize("Doanh thu dịch vụ truyền hình trả tiền tháng 7/2023 đạt bao nhiêu?"))
    assert answers_another_question(question, normalize(SUBSCRIBERS))
