"""SQuAD 2.0 outcomes and the figures the 90% target is judged by."""

from __future__ import annotations

import unicodedata

import pytest

from app.evaluation.dataset import Question
from app.evaluation.outcomes import (
    Outcome,
    Record,
    classify,
    contains_answer,
    readers_text,
    summarise,
    trade_off,
)

ANSWERABLE = Question("q1", "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", ("90%",), "bo-tttt")
UNANSWERABLE = Question("q2", "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", (), "bo-tttt")


@pytest.mark.parametrize(
    ("question", "answer", "outcome"),
    [
        (ANSWERABLE, "Trợ lý ảo phải trả lời được 90% câu hỏi.", Outcome.CORRECT),
        (ANSWERABLE, "Trợ lý ảo phải trả lời được 80% câu hỏi.", Outcome.WRONG),
        (ANSWERABLE, None, Outcome.FALSE_ABSTENTION),
        (UNANSWERABLE, None, Outcome.CORRECT_ABSTENTION),
        (UNANSWERABLE, "Khoảng 20 triệu đồng.", Outcome.FALSE_ANSWER),
    ],
)
def test_classify_the_five_outcomes(question: Question, answer: str | None, outcome: Outcome) -> None:
    assert classify(question, answer) is outcome
    assert Record(question, answer, 0.5, (), 10.0).outcome is outcome


def test_any_of_several_expected_answers_counts() -> None:
    question = Question("q", "Ai chủ trì?", ("Nguyễn Mạnh Hùng", "Bộ trưởng"))
    assert classify(question, "Bộ trưởng chủ trì hội nghị.") is Outcome.CORRECT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tỉnh Hoà Bình đã triển khai.", "hòa bình"),  # tone placement and case
        ("TỈNH HÒA BÌNH ĐÃ TRIỂN KHAI.", "Hòa Bình"),  # case
        (unicodedata.normalize("NFD", "Phát triển thủy sản"), "thuỷ sản"),  # NFD text, old-style expected
        ("Sở  TT&TT\u00a0Hòa  Bình", "TT&TT Hòa Bình"),  # white space
    ],
)
def test_contains_answer_normalises_before_matching(text: str, expected: str) -> None:
    assert contains_answer(text, [expected])


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        (None, ["90%"]),
        ("", ["90%"]),
        ("trả lời được 80% câu hỏi", ["90%"]),
        ("Hòa Bình", ["  ", ""]),  # blank expected answers never match
        ("Hòa Bình", []),
        ("hoa binh", ["Hòa Bình"]),  # diacritics are meaningful in Vietnamese
    ],
)
def test_contains_answer_rejects(text: str | None, answers: list[str]) -> None:
    assert not contains_answer(text, answers)


FIGURE = Question("q3", "Doanh thu năm 2023 đạt bao nhiêu?", ("68.400 tỷ đồng",))
UNITS = Question("q4", "Bộ có bao nhiêu cục?", ("2",))


@pytest.mark.parametrize(
    "answer",
    [
        "Doanh thu năm 2023 đạt 68.400[1] tỷ đồng.",  # a marker inside the fact
        "Doanh thu năm 2023 đạt 68.400 [2][1] tỷ đồng.",
        "Doanh thu năm 2023 đạt 68.400 [1, 2] tỷ đồng.",
        "Doanh thu năm 2023 đạt 68.400[1; 3] tỷ đồng.",
    ],
)
def test_a_generated_answer_is_correct_with_a_citation_marker_inside_the_fact(answer: str) -> None:
    assert classify(FIGURE, answer) is Outcome.CORRECT


def test_a_citation_markers_number_is_not_the_expected_figure() -> None:
    # "2" is in "[2]" but not in what the answer says: it is wrong.
    assert classify(UNITS, "Bộ có 34 đơn vị trực thuộc [1][2].") is Outcome.WRONG
    assert classify(UNITS, "Bộ có 2 cục [1].") is Outcome.CORRECT


def _records() -> list[Record]:
    q = Question
    return [
        # correct, the answer in the first citation
        Record(q("a1", "?", ("90%",)), "được 90% câu hỏi", 0.9, ("trả lời được 90% câu hỏi", "khác"), 10.0),
        # wrong, the answer in the second citation
        Record(q("a2", "?", ("836",)), "khoảng 800 cuộc", 0.7, ("không có", "tấn công mạng 836 cuộc"), 20.0),
        # false abstention, the answer in the third citation
        Record(q("a3", "?", ("88",)), None, 0.2, ("a", "b", "tới 88 điểm cầu", "c"), 30.0),
        # correct, but no citation holds it (tone placement differs: still a match for the answer)
        Record(q("a4", "?", ("Hoà Bình",)), "tỉnh Hòa Bình", 0.8, ("không liên quan",), 40.0),
        Record(q("u1", "?", ()), None, 0.1, ("x",), 50.0),  # correct abstention
        Record(q("u2", "?", ()), "một câu trả lời", 0.6, ("y",), 60.0),  # false answer
        Record(q("u3", "?", ()), None, 0.3, (), 70.0),  # correct abstention
    ]


def test_answer_rank_is_the_first_citation_holding_an_answer() -> None:
    assert [r.answer_rank for r in _records()] == [1, 2, 3, None, None, None, None]


def test_summarise_figures() -> None:
    summary = summarise(_records())
    assert (summary.questions, summary.answerable, summary.unanswerable) == (7, 4, 3)
    assert summary.outcomes == {
        "correct answer": 2,
        "wrong answer": 1,
        "false abstention": 1,
        "correct abstention": 2,
        "false answer": 1,
    }
    assert summary.answer_rate == pytest.approx(2 / 4)
    # a4 is answered correctly, but its first citation does not hold the answer.
    assert summary.cited_answer_rate == pytest.approx(1 / 4)
    assert summary.false_answer_rate == pytest.approx(1 / 3)
    assert summary.recall_at_1 == pytest.approx(1 / 4)
    assert summary.recall_at_5 == pytest.approx(3 / 4)
    assert summary.mrr == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    assert summary.meets(0.5) and not summary.meets(0.9)


def test_recall_at_5_ignores_answers_ranked_lower() -> None:
    citations = ("a", "b", "c", "d", "e", "836 cuộc")
    record = Record(Question("a", "?", ("836",)), None, 0.1, citations, 1.0)
    assert record.answer_rank == 6
    summary = summarise([record])
    assert summary.recall_at_5 == 0.0 and summary.recall_at_1 == 0.0


def test_summarise_without_records_or_without_one_kind() -> None:
    empty = summarise([])
    assert (empty.questions, empty.answer_rate, empty.false_answer_rate, empty.mrr) == (0, 0.0, 0.0, 0.0)
    only_unanswerable = summarise([Record(UNANSWERABLE, None, 0.1, (), 1.0)])
    assert only_unanswerable.answer_rate == 0.0 and only_unanswerable.false_answer_rate == 0.0
    only_answerable = summarise([Record(ANSWERABLE, "90%", 0.9, ("90%",), 1.0)])
    assert only_answerable.answer_rate == 1.0 and only_answerable.mrr == 1.0
    assert only_answerable.false_answer_rate == 0.0


def test_trade_off_counts_the_drafts_as_if_abstaining_below_each_threshold() -> None:
    q = Question
    records = [
        # abstained at the run's threshold, but the draft was right: answered at a lower one
        Record(q("a1", "?", ("90%",)), None, 0.3, (), 1.0, draft="được 90% câu hỏi"),
        Record(q("a2", "?", ("836",)), "836 cuộc", 0.8, (), 1.0, draft="836 cuộc"),
        Record(q("a3", "?", ("88",)), "80 điểm cầu", 0.9, (), 1.0, draft="80 điểm cầu"),  # wrong at any threshold
        Record(q("u1", "?", ()), None, 0.4, (), 1.0, draft="một câu trả lời"),
        Record(q("u2", "?", ()), None, 0.0, (), 1.0, draft=None),  # nothing to answer with
    ]
    points = trade_off(records, [0.0, 0.3, 0.5, 0.85, 1.0])
    assert [p.threshold for p in points] == [0.0, 0.3, 0.5, 0.85, 1.0]
    assert [p.answer_rate for p in points] == pytest.approx([2 / 3, 2 / 3, 1 / 3, 0.0, 0.0])
    assert [p.false_answer_rate for p in points] == pytest.approx([1 / 2, 1 / 2, 0.0, 0.0, 0.0])
    # The default grid: 51 thresholds from 0 to 1.
    grid = trade_off(records)
    assert len(grid) == 51 and grid[0].threshold == 0.0 and grid[-1].threshold == 1.0


def test_summary_counts_the_questions_each_reader_answered_with_fallbacks_apart() -> None:
    q = Question("a", "?", ("90%",))
    records = [
        Record(q, "90% [1]", 1.0, (), 1.0, reader="llm"),
        Record(q, None, 0.0, (), 1.0, reader="llm"),  # the LLM's refusal is still its answer
        Record(q, "90%", 0.8, (), 1.0, reader="lexical", reader_fallback="the LLM did not answer within 30 s"),
        Record(q, "80%", 0.6, (), 1.0, reader="lexical", reader_fallback="cannot reach the LLM"),
        Record(q, "90%", 0.9, (), 1.0, reader="lexical"),
        Record(q, "90%", 0.9, (), 1.0),  # a target that does not say which reader answered
    ]
    summary = summarise(records)
    assert summary.readers == {"llm": 2, "lexical (fallback)": 2, "lexical": 1}
    assert list(summary.readers) == ["lexical (fallback)", "llm", "lexical"]  # most first, then by name
    assert readers_text(summary.readers) == "lexical (fallback) 2, llm 2, lexical 1"
    assert summarise([records[-1]]).readers == {}
    assert readers_text({}) == "not reported by the target"
