"""Signals of the abstention confidence that read the question's type and periods (docs/quality.md)."""

from __future__ import annotations

import pytest

from app.answer.evidence import _proximity, _type_match
from app.answer.periods import named_periods, period_unnamed
from app.answer.question import AnswerType, profile
from app.core.document_periods import DocumentPeriods
from app.domain import Document, Passage, PassageHit
from app.text.normalize import normalize
from app.text.tokens import syllables

REPORT_2023 = normalize(
    "Số liệu tháng 7/2023: tấn công mạng là 836 cuộc, giảm 15% so với cùng kỳ năm 2022. "
    "Tỷ trọng kinh tế số/GDP Quý 2 năm 2023 ước tính đạt 15,26%."
)


@pytest.mark.parametrize(
    ("question", "document", "unnamed"),
    [
        # The asked month is the report's month, written either way.
        ("Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", REPORT_2023, 0.0),
        ("Tấn công mạng tháng 7 năm 2023 là bao nhiêu cuộc?", REPORT_2023, 0.0),
        # Another month of a year the report does name: the month is what counts.
        ("Tấn công mạng tháng 8/2023 là bao nhiêu cuộc?", REPORT_2023, 1.0),
        # Quarters, Roman or Arabic.
        ("Tỷ trọng kinh tế số/GDP Quý II/2023 là bao nhiêu?", REPORT_2023, 0.0),
        ("Tỷ trọng kinh tế số/GDP Quý III/2023 là bao nhiêu?", REPORT_2023, 1.0),
        # A year named in the report only as the point of comparison holds none of its figures.
        ("Năm 2022 có bao nhiêu cuộc tấn công mạng?", REPORT_2023, 1.0),
        # ... and a comparison in the question asks about the other period, not this one.
        ("Năm 2023 tấn công mạng giảm bao nhiêu so với năm 2022?", REPORT_2023, 0.0),
        ("Năm 2021 có bao nhiêu cuộc tấn công mạng?", REPORT_2023, 1.0),
        # No period asked: nothing can be missing.
        ("Tấn công mạng là bao nhiêu cuộc?", REPORT_2023, 0.0),
    ],
)
def test_period_unnamed(question: str, document: str, unnamed: float) -> None:
    assert period_unnamed(normalize(question), named_periods(document)) == unnamed


class _Store:
    """The one read DocumentPeriods makes of a document store, counted."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.reads = 0

    def get_document(self, unit: str, document_id: str) -> Document | None:
        self.reads += 1
        return self.documents.get(document_id)


def _document(text: str, title: str = "Báo cáo", date: str | None = None) -> tuple[Document, PassageHit]:
    text = normalize(text)
    document = Document("d", "u", title, text, date, None, "hash", 1, "2026-12-02")
    passage = Passage(f"p-{len(text)}", "d", "u", 0, 0, 40, text[:40])
    return document, PassageHit(passage, title, date, 1.0)


ASKED = normalize("Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?")
BODY = "Tấn công mạng là 836 cuộc, giảm 15% so với tháng trước. Số liệu này của tháng 7/2023."


def test_the_whole_document_its_title_and_its_date_name_its_periods() -> None:
    store = _Store()
    periods = DocumentPeriods(store)  # type: ignore[arg-type]
    for text, title, date, unnamed in [
        (BODY, "Báo cáo", None, 0.0),  # named past the passage, further down the document
        ("Tấn công mạng là 836 cuộc.", "Báo cáo tháng 7/2023", None, 0.0),
        ("Tấn công mạng là 836 cuộc.", "Báo cáo tháng 6/2023", None, 1.0),
        ("Tấn công mạng là 836 cuộc trong năm 2023.", "Báo cáo", None, 1.0),  # the year, not the month
    ]:
        document, hit = _document(text, title, date)
        store.documents = {"d": document}
        assert period_unnamed(ASKED, periods(hit)) == unnamed, (text, title)


def test_a_documents_periods_are_read_once_and_again_when_its_content_changes() -> None:
    store = _Store()
    periods = DocumentPeriods(store)  # type: ignore[arg-type]
    document, hit = _document(BODY)
    store.documents = {"d": document}
    assert periods(hit) == periods(hit) and store.reads == 1
    replaced, new_hit = _document("Tấn công mạng là 900 cuộc trong tháng 8/2023, nhiều hơn mọi tháng trước.")
    store.documents = {"d": replaced}
    assert period_unnamed(ASKED, periods(new_hit)) == 1.0 and store.reads == 2


def test_a_document_deleted_meanwhile_answers_from_its_passage_and_is_not_kept() -> None:
    store = _Store()
    periods = DocumentPeriods(store)  # type: ignore[arg-type]
    document, hit = _document("Tháng 7/2023: tấn công mạng là 836 cuộc, giảm 15% so với tháng trước.")
    assert period_unnamed(ASKED, periods(hit)) == 0.0  # the passage itself names 7/2023
    store.documents = {"d": document}
    periods(hit)
    assert store.reads == 2  # the miss was not cached


@pytest.mark.parametrize(
    ("question", "sentence", "match"),
    [
        # Numbers written as words answer "bao nhiêu".
        ("Đội tuyển giành được bao nhiêu huy chương?", "Đội tuyển giành được sáu huy chương vàng.", 1.0),
        ("Đội tuyển giành được bao nhiêu huy chương?", "Đội tuyển giành được nhiều huy chương.", 0.0),
        # A numeral the question itself uses is not an answer to it.
        ("Hai đội giành được bao nhiêu huy chương?", "Hai đội giành được nhiều huy chương.", 0.0),
        # An era answers "khi nào".
        ("Thành phố được xây dựng khi nào?", "Thành phố được xây dựng vào thế kỷ mười bốn.", 1.0),
        ("Thành phố được xây dựng khi nào?", "Thành phố được xây dựng bởi người Chăm.", 0.0),
        ("Thành phố được xây dựng khi nào?", "Thành phố được xây dựng năm 1350.", 1.0),
    ],
)
def test_type_match(question: str, sentence: str, match: float) -> None:
    asked, said = profile(normalize(question)), normalize(sentence)
    assert _type_match(asked, said, set(syllables(said))) == match


def test_never_is_not_a_question_about_time() -> None:
    assert profile("Loài này không bao giờ sống ở đâu?").answer_type is AnswerType.PLACE
    assert profile("Nhà máy chưa bao giờ sản xuất loại xe nào?").answer_type is AnswerType.OTHER
    assert profile("Bao giờ nhà máy sản xuất loại xe này?").answer_type is AnswerType.TIME


@pytest.mark.parametrize(
    ("sentence", "proximity"),
    [
        # "tấn công mạng ... cuộc": 4 distinct terms over 6 syllables
        ("Tấn công mạng là 836 cuộc.", 4 / 6),
        # the same terms scattered over a longer sentence
        ("Tấn công vào hệ thống của các nhà mạng lớn đã giảm, còn 836 cuộc.", 4 / 15),
        ("Doanh thu bưu chính tăng mạnh.", 0.0),  # no question term
        ("Mạng lưới bưu chính phủ khắp.", 0.0),  # one term only
    ],
)
def test_proximity_is_the_density_of_the_questions_terms(sentence: str, proximity: float) -> None:
    asked = profile(normalize("Tấn công mạng là bao nhiêu cuộc?"))
    assert asked.terms == {"tấn", "công", "mạng", "cuộc"}
    assert _proximity(asked, syllables(normalize(sentence))) == pytest.approx(proximity)
