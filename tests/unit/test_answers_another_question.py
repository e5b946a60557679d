"""The guard against an answer to another question: another period, variant or official, or a
document that never names the month or quarter asked about."""

from __future__ import annotations

import pytest

from app.answer.extract import LexicalReader
from app.answer.mismatch import answers_another_question, document_misses_period, variant_clash
from app.answer.model import AnswerModel, LinearModel
from app.answer.offices import office_unnamed
from app.answer.periods import month_or_quarter_unnamed, named_periods, period_clash
from app.answer.question import profile
from app.domain import Passage, PassageHit
from app.text.normalize import normalize

ATTACKS = "- Tấn công mạng tháng 7/2023 là 836 cuộc, giảm 15% so với cùng kỳ tháng 7/2022 (983 cuộc)."


@pytest.mark.parametrize(
    ("question", "answer", "clash"),
    [
        ("Số cuộc tấn công mạng trong tháng 6/2023 là bao nhiêu?", ATTACKS, True),
        ("Số cuộc tấn công mạng trong tháng 7/2023 là bao nhiêu?", ATTACKS, False),
        # The asked period named as the point of comparison: the figure may be there.
        ("Trong tháng 7/2022, Việt Nam ghi nhận bao nhiêu vụ tấn công mạng?", ATTACKS, False),
        ("Tỷ trọng kinh tế số/GDP trong Quý I/2023 ước đạt bao nhiêu?", "Tỷ trọng Quý 2 năm 2023 đạt 15,26%.", True),
        ("Tỷ trọng kinh tế số/GDP Quý II/2023 ước đạt bao nhiêu?", "Tỷ trọng Quý 2 năm 2023 đạt 15,26%.", False),
        ("ENR đã biên dịch gì vào năm 2004?", "Trong năm 2014, ENR đã tổng hợp dữ liệu.", True),
        # A month asked, only another year given.
        ("Doanh thu tháng 6/2023 là bao nhiêu?", "Doanh thu năm 2021 đạt 900 triệu USD.", True),
        # A month asked, the same year given: the answer may well be about that month.
        ("Doanh thu tháng 6/2023 là bao nhiêu?", "Năm 2023 doanh thu đạt 900 triệu USD.", False),
        # The usual year-on-year wording compares; it does not report on the other year.
        ("Doanh thu Quý I/2023 tăng bao nhiêu?", "Doanh thu tăng 5% so với quý I năm 2022.", False),
        ("Doanh thu năm 2023 tăng bao nhiêu?", "Doanh thu cao hơn năm 2022 là 5%.", False),
        # A span of years covers each of them.
        ("Năm 2023 có bao nhiêu dự án?", "Giai đoạn 2021-2025 có 12 dự án.", False),
        ("Năm 2023 có bao nhiêu dự án?", "Từ năm 2020 đến 2025 có 12 dự án.", False),
        ("Năm 2019 có bao nhiêu dự án?", "Giai đoạn 2021-2025 có 12 dự án.", True),
        # Document numbers name no period; months are 1-12.
        ("Tháng 6/2023 có bao nhiêu cuộc?", "Theo Thông tư 22/2020/TT-BTTTT, tháng 6/2023 có 836 cuộc.", False),
        ("Theo Nghị định 13/2023/NĐ-CP, có bao nhiêu loại dữ liệu?", "Năm 2024 có hai loại dữ liệu.", False),
        # Nothing to compare.
        ("Doanh thu bưu chính là bao nhiêu?", ATTACKS, False),
        ("Doanh thu năm 2021 là bao nhiêu?", "Doanh thu đạt 900 triệu USD.", False),
    ],
)
def test_period_clash(question: str, answer: str, clash: bool) -> None:
    assert period_clash(normalize(question), normalize(answer)) is clash


@pytest.mark.parametrize(
    ("question", "answer", "clash"),
    [
        ("Mạng 3G sẽ bị tắt sóng từ ngày nào?", "Từ 15/9/2024 sẽ tắt sóng 2G theo quy định.", True),
        ("Hộp nào là bắt buộc để xem MPEG-3?", "Các chương trình ở định dạng MPEG-2 theo chuẩn DVB.", True),
        ("Mạng 3G sẽ bị tắt sóng từ ngày nào?", "Sau 2G, mạng 3G sẽ tắt sóng từ năm 2028.", False),
        ("Mạng 3G sẽ bị tắt sóng từ ngày nào?", "Mạng di động sẽ tắt sóng từ năm 2028.", False),
        # Lower-case units are figures, not names of things.
        ("Tuyến cáp dài 100km đi qua đâu?", "Tuyến cáp dài 120km đi qua Đà Nẵng.", False),
        # The asked code in another case or hyphenated, or one of several asked codes, is named.
        ("Mạng 4G phủ sóng bao nhiêu?", "Mạng 4g phủ 99,8% dân số, 5G đang thử nghiệm.", False),
        ("Mạng 5G phủ sóng ở đâu?", "5G-Advanced phủ ở Hà Nội, 4G ở mọi nơi.", False),
        ("Việt Nam có bao nhiêu trạm 4G và 5G?", "Việt Nam có 5.000 trạm 5G.", False),
    ],
)
def test_variant_clash(question: str, answer: str, clash: bool) -> None:
    assert variant_clash(question, answer) is clash


@pytest.mark.parametrize(
    ("question", "answer", "unnamed"),
    [
        # Only the deputy is named, or only the office when the deputy is asked for.
        ("Ai là Giám đốc Sở TT&TT Ninh Bình?", "Ông Đặng Tùng Anh, Phó Giám đốc Sở TT&TT Ninh Bình, phát biểu.", True),
        ("Ai là Tổng Giám đốc Bưu điện Việt Nam?", "Bà Lan, Phó Tổng Giám đốc Bưu điện Việt Nam, cho biết.", True),
        ("Phó chủ tịch của IPCC là ai?", "Hoesung Lee là chủ tịch của IPCC kể từ năm 2015.", True),
        ("Hiện nay, ai đang là Phó Thủ tướng phụ trách?", "Thủ tướng Chính phủ đã chỉ đạo.", True),
        # No official of that office: a sentence about the department, or about others.
        ("Ai là Cục trưởng Cục Viễn thông?", "Cục Viễn thông sẽ đo lường chất lượng mạng thường xuyên.", True),
        ("Cục trưởng Cục Viễn thông là ai?", "Cục Viễn thông sẽ đo lường chất lượng mạng thường xuyên.", True),
        ("Ai là Trưởng Đại diện Văn phòng Bộ tại Đà Nẵng?", "Đại diện Văn phòng Bộ tại Đà Nẵng dự họp.", True),
        # A longer title is another office.
        ("Ai là Giám đốc Sở?", "Tổng Giám đốc VNPT phát biểu.", True),
        ("Ai là Tổng Giám đốc VNPT?", "Giám đốc Sở phát biểu.", True),
        # The office is named, as such.
        ("Ai là Cục trưởng Cục Viễn thông?", "Ông Nguyễn Phong Nhã, Cục trưởng Cục Viễn thông, cho biết.", False),
        ("Ai là Giám đốc Sở?", "Giám đốc Sở Trần Văn B và Phó Giám đốc Sở Lê C dự họp.", False),
        ("Ai là Phó Giám đốc Sở?", "Ông Đặng Tùng Anh, Phó Giám đốc Sở, phát biểu.", False),
        ("Phó chủ tịch của IPCC là ai?", "IPCC được lãnh đạo bởi Phó chủ tịch Ismail El Gizouli.", False),
        ("Ai là tân Tổng Giám đốc VNPT?", "Ông Huỳnh Quang Liêm, Tổng Giám đốc VNPT, cho biết.", False),
        # Not a question about who holds an office: the rule says nothing.
        ("Ai là người sáng lập Apple?", "Apple ra đời năm 1976.", False),
        (
            "Phó Giám đốc Sở Đặng Tùng Anh đã nêu vấn đề gì?",
            "Ông Đặng Tùng Anh đề nghị Giám đốc Sở bố trí biên chế.",
            False,
        ),
        (
            "Thủ tướng phê duyệt Chương trình Chuyển đổi số quốc gia bằng quyết định nào?",
            "Phó Thủ tướng Vũ Đức Đam đã ký Quyết định 749/QĐ-TTg.",
            False,
        ),
        # "ứng phó" (to respond) names no deputy.
        ("Ai là Giám đốc Trung tâm ứng cứu sự cố?", "Giám đốc Trung tâm chỉ đạo ứng phó sự cố.", False),
        ("Doanh nghiệp cần làm gì khi xảy ra sự cố?", "Kích hoạt phương án ứng phó sự cố an toàn thông tin.", False),
    ],
)
def test_office_unnamed(question: str, answer: str, unnamed: bool) -> None:
    assert office_unnamed(normalize(question), normalize(answer)) is unnamed
    assert answers_another_question(profile(normalize(question)), normalize(answer)) is unnamed


def _hit(text: str) -> PassageHit:
    return PassageHit(Passage("p1", "d1", "u", 0, 0, len(text), text), "Báo cáo tháng 7/2023", None, 1.0, dense=0.9)


def _reader(gap: float) -> LexicalReader:
    """A model whose ranker follows word overlap and whose confidence is high for any answer."""
    untrained = AnswerModel.untrained()
    sentence = LinearModel((5.0,) + (0.0,) * (len(untrained.sentence.weights) - 1), 0.0)
    confidence = LinearModel(untrained.confidence.weights, 10.0)
    return LexicalReader(AnswerModel(sentence, confidence, 0.5, "test", second_sentence_gap=gap))


def _read(reader: LexicalReader, question: str, passage: str) -> tuple[str, float]:
    hits = [_hit(normalize(passage))]
    q = profile(normalize(question))
    # The document: the passage under its title, as ``app.core.document_periods`` reads it.
    found = reader.read(q, hits, lambda _: 1.0, lambda hit: named_periods(f"{hit.title}\n{hit.passage.text}"))
    assert found is not None
    return found.text, found.confidence


def test_the_reader_abstains_on_an_answer_about_another_month() -> None:
    question = "Tấn công mạng tháng 6/2023 là bao nhiêu cuộc?"
    attacks = "Tấn công mạng tháng 7/2023 là 836 cuộc."
    text, confidence = _read(_reader(gap=0.0), question, f"{attacks} Doanh thu bưu chính đạt 4.900 tỷ đồng.")
    assert "836" in text and confidence == 0.0
    # Even when a weaker sentence does not clash: passing over to it answered more questions
    # falsely on the tuning part (docs/quality.md, the guard's second round).
    text, confidence = _read(_reader(gap=0.0), question, f"{attacks} Riêng tháng 6/2023 ghi nhận vụ việc.")
    assert "836" in text and confidence == 0.0
    text, confidence = _read(_reader(gap=0.0), "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", attacks)
    assert "836" in text and confidence > 0.99


def test_the_reader_abstains_on_the_deputy_for_the_director() -> None:
    passage = "Ông Đặng Tùng Anh, Phó Giám đốc Sở TT&TT Ninh Bình, đã nêu vấn đề thiếu cán bộ."
    text, confidence = _read(_reader(gap=0.0), "Ai là Giám đốc Sở TT&TT Ninh Bình?", passage)
    assert "Đặng Tùng Anh" in text and confidence == 0.0
    _, confidence = _read(_reader(gap=0.0), "Ai là Phó Giám đốc Sở TT&TT Ninh Bình?", passage)
    assert confidence > 0.99
    # A sentence about the department does not say who directs it.
    passage = "Cục Viễn thông sẽ đo lường chất lượng mạng thường xuyên và công bố kết quả."
    _, confidence = _read(_reader(gap=0.0), "Ai là Cục trưởng Cục Viễn thông?", passage)
    assert confidence == 0.0


def test_a_question_about_time_may_be_answered_with_another_period() -> None:
    passage = "Bộ trưởng yêu cầu tổ chức hội nghị sơ kết ngay trong tháng 7/2024."
    question = "Bộ trưởng yêu cầu tổ chức hội nghị sơ kết vào thời gian nào (chỉ đạo tại Hội nghị tháng 6/2024)?"
    text, confidence = _read(_reader(gap=0.0), question, passage)
    assert "7/2024" in text and confidence > 0.99
    # Not so for another variant: "from which day" about 3G, answered about 2G.
    _, confidence = _read(_reader(gap=0.0), "Mạng 3G bị tắt sóng từ ngày nào?", "Từ 15/9/2024 tắt sóng 2G.")
    assert confidence == 0.0


def test_a_runner_up_about_another_year_is_left_out_of_the_answer() -> None:
    passage = (
        "Bộ trưởng nghe Vụ Khoa học Công nghệ trình bày về chuyển đổi số trong Quý II/2023. "
        "Cục hoàn thiện báo cáo về chuyển đổi số năm 2022."
    )
    question = "Vụ nào trình bày về chuyển đổi số trong Quý II/2023?"
    text, confidence = _read(_reader(gap=100.0), question, passage)
    assert text.startswith("Bộ trưởng nghe Vụ Khoa học Công nghệ") and "2022" not in text
    assert confidence > 0.99
    # Without a clash, the close runner-up joins as usual.
    text, _ = _read(_reader(gap=100.0), "Vụ nào trình bày về chuyển đổi số?", passage)
    assert "2022" in text


JULY_REPORT = named_periods("Báo cáo tháng 7/2023. Doanh thu quý II/2023 tăng 5% so với cùng kỳ tháng 6/2022.")


@pytest.mark.parametrize(
    ("question", "answer", "unnamed"),
    [
        ("Google đã gỡ bao nhiêu video trong tháng 8/2023?", "Google đã gỡ 1.052 video vi phạm.", True),
        ("Google đã gỡ bao nhiêu video trong tháng 7/2023?", "Google đã gỡ 1.052 video vi phạm.", False),
        ("Doanh thu quý III/2023 là bao nhiêu?", "Doanh thu đạt 390 tỷ đồng.", True),
        ("Doanh thu quý 2 năm 2023 là bao nhiêu?", "Doanh thu đạt 390 tỷ đồng.", False),
        # Named by the document only as a point of comparison: no figure of its own there...
        ("Doanh thu tháng 6/2022 là bao nhiêu?", "Doanh thu đạt 390 tỷ đồng.", True),
        # ...unless the answer names it, where the compared figure often stands.
        ("Doanh thu tháng 6/2022 là bao nhiêu?", "Doanh thu tăng 5% so với tháng 6/2022 (371 tỷ đồng).", False),
        # A year alone is never enough to veto; nor a question that names no period.
        ("Doanh thu năm 2019 là bao nhiêu?", "Doanh thu đạt 390 tỷ đồng.", False),
        ("Doanh thu là bao nhiêu?", "Doanh thu đạt 390 tỷ đồng.", False),
    ],
)
def test_month_or_quarter_unnamed(question: str, answer: str, unnamed: bool) -> None:
    assert month_or_quarter_unnamed(normalize(question), normalize(answer), JULY_REPORT) is unnamed
    assert document_misses_period(profile(normalize(question)), normalize(answer), JULY_REPORT) is unnamed


HALF_YEAR_REPORT = named_periods("Sơ kết 6 tháng đầu năm 2021. Doanh thu tăng 8% so với 6 tháng đầu năm 2020.")


@pytest.mark.parametrize(
    ("question", "answer", "unnamed"),
    [
        # What a question compares with is not what it asks about...
        ("Doanh thu 6 tháng đầu năm 2021 tăng bao nhiêu so với 6 tháng đầu năm 2020?", "Doanh thu tăng 8%.", False),
        ("Doanh thu tháng 6/2021 gấp mấy lần tháng 6/2019?", "Doanh thu tăng 8%.", False),
        # ...and what the document names only as its comparison does not excuse it.
        ("Doanh thu 6 tháng đầu năm 2020 là bao nhiêu?", "Doanh thu tăng 8%.", True),
        # A legal document's number names no month.
        ("Theo Thông tư 09/2023/TT-BTTTT, doanh thu được tính thế nào?", "Doanh thu tăng 8%.", False),
        # One of the months asked is enough: a span ends in the report's month.
        ("Từ tháng 1/2021 đến tháng 6/2021, doanh thu tăng bao nhiêu?", "Doanh thu tăng 8%.", False),
        # A date in the answer names its month, whatever the question asks for.
        ("Tháng 8/2021, ai chủ trì hội nghị?", "Ngày 15/8/2021, Bộ trưởng chủ trì hội nghị.", False),
        ("Tháng 9/2021, ai chủ trì hội nghị?", "Ngày 15/8/2021, Bộ trưởng chủ trì hội nghị.", True),
        # The month is checked before the quarter: "quý III" does not excuse "tháng 7".
        ("Doanh thu tháng 7/2021 (quý III/2021) là bao nhiêu?", "Doanh thu quý III/2021 tăng 8%.", True),
        # "13 tháng" is no month.
        ("Doanh thu 13 tháng năm 2021 là bao nhiêu?", "Doanh thu tăng 8%.", False),
    ],
)
def test_what_a_question_asks_for_and_what_excuses_the_document(question: str, answer: str, unnamed: bool) -> None:
    assert month_or_quarter_unnamed(normalize(question), normalize(answer), HALF_YEAR_REPORT) is unnamed


def test_a_question_about_time_is_not_vetoed_for_a_month_neither_names() -> None:
    """The answer to "when" is another date by nature: here September for a question that names
    August, from a report on July, which the rule alone would veto."""
    question = profile(normalize("Tháng 8/2023, Bộ tổ chức hội nghị vào ngày nào?"))
    answer = normalize("Hội nghị diễn ra ngày 2/9/2023.")
    assert month_or_quarter_unnamed(question.text, answer, JULY_REPORT)
    assert not document_misses_period(question, answer, JULY_REPORT)


def test_the_reader_abstains_on_a_document_that_never_names_the_month() -> None:
    passage = "Google đã gỡ 1.052 video vi phạm trên Youtube (tỷ lệ 91%)."
    text, confidence = _read(_reader(gap=0.0), "Trong tháng 8/2023, Google đã gỡ bao nhiêu video?", passage)
    assert "1.052" in text and confidence == 0.0
    # The same sentence under a report on that month: the figure is the month's.
    _, confidence = _read(_reader(gap=0.0), "Trong tháng 7/2023, Google đã gỡ bao nhiêu video?", passage)
    assert confidence > 0.99


@pytest.mark.parametrize(
    ("text", "months"),
    [
        # Months counted from the start of the year name the last of them...
        ("Sơ kết 6 tháng đầu năm 2021", {(6, "2021")}),
        ("Số liệu 7 tháng năm 2023", {(7, "2023")}),
        # ...but not the last months of a year, which name no single month.
        ("Phương hướng 6 tháng cuối năm 2021", set()),
        # A date names no month here: "Từ 15/9/2024 …" is when, not what period a figure is of.
        ("Từ 15/9/2024 sẽ tắt sóng 2G", set()),
    ],
)
def test_the_months_a_text_names(text: str, months: set[tuple[int, str]]) -> None:
    assert set(named_periods(normalize(text)).months) == months


def test_a_half_year_report_names_its_last_month() -> None:
    report = named_periods(normalize("Hội nghị sơ kết 6 tháng đầu năm 2021. Đến hết ngày 30/6 đã có 21 triệu máy."))
    answer = normalize("Đến hết ngày 30/6 đã có 21 triệu máy.")
    question = profile(normalize("Tính đến cuối tháng 6/2021, có bao nhiêu máy cài ứng dụng?"))
    assert not document_misses_period(question, answer, report)
    question = profile(normalize("Tính đến cuối tháng 9/2021, có bao nhiêu máy cài ứng dụng?"))
    assert document_misses_period(question, answer, report)
    # And a question about the first six months of another year is not answered from it.
    question = profile(normalize("Trong 6 tháng đầu năm 2024, có bao nhiêu máy cài ứng dụng?"))
    assert document_misses_period(question, answer, report)
