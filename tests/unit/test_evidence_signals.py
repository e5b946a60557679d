"""Signals of the abstention confidence that read the question's type and periods (docs/quality.md)."""

from __future__ import annotations

import pytest

from app.answer.evidence import (
    EVIDENCE_FEATURES,
    _period_unnamed,
    _type_match,
    evidence_features,
    sentence_candidates,
)
from app.answer.question import AnswerType, profile
from app.domain import Passage, PassageHit
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
    assert _period_unnamed(normalize(question), document) == unnamed


def test_the_document_title_and_date_name_its_period() -> None:
    text = normalize("Tấn công mạng là 836 cuộc, giảm 15% so với tháng trước.")
    question = profile(normalize("Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?"))

    def unnamed(title: str, date: str | None) -> float:
        hit = PassageHit(Passage("p", "d", "u", 0, 0, len(text), text), title, date, 1.0, dense=0.8)
        candidates = sentence_candidates(question, [hit], lambda _: 1.0)
        feats = evidence_features(question, [hit], candidates, [1.0], 0, lambda _: 1.0, candidates, text)
        return feats[EVIDENCE_FEATURES.index("period_unnamed")]

    assert unnamed("Báo cáo tháng 7/2023", None) == 0.0
    assert unnamed("Báo cáo tháng 6/2023", None) == 1.0


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
