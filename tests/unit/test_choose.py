"""Which sentences make the answer: the best one, and the runner-up when it is close."""

from __future__ import annotations

from app.answer.evidence import Candidate
from app.answer.extract import choose


def _candidate(hit: int, start: int, text: str) -> Candidate:
    return Candidate(hit, start, start + len(text), text, ())


FIGURE = _candidate(0, 60, "Tấn công mạng tháng 7/2023 là 836 cuộc.")
HEADING = _candidate(0, 0, "Số liệu an toàn thông tin tháng 7/2023.")
OTHER = _candidate(1, 0, "Doanh thu bưu chính ước đạt 4.900 tỷ đồng.")


def test_a_close_runner_up_joins_the_best_in_reading_order() -> None:
    best, sentences = choose([FIGURE, HEADING, OTHER], [3.0, 2.0, 0.5], gap=2.0, max_chars=400)
    assert best == 0
    assert sentences == (HEADING, FIGURE)  # same passage: the heading comes first
    best, sentences = choose([OTHER, FIGURE], [2.5, 3.0], gap=2.0, max_chars=400)
    assert best == 1 and sentences == (FIGURE, OTHER)  # another passage: best first


def test_the_best_answers_alone_when_the_runner_up_is_far_or_too_long() -> None:
    assert choose([FIGURE, OTHER], [3.0, 0.9], gap=2.0, max_chars=400) == (0, (FIGURE,))
    assert choose([FIGURE, OTHER], [3.0, 2.5], gap=2.0, max_chars=60) == (0, (FIGURE,))
    assert choose([FIGURE], [3.0], gap=2.0, max_chars=400) == (0, (FIGURE,))


def test_the_same_sentence_from_another_passage_is_never_the_runner_up() -> None:
    again = _candidate(1, 0, FIGURE.text)  # overlapping passages, or a document uploaded twice
    best, sentences = choose([FIGURE, again, OTHER], [3.0, 2.9, 1.5], gap=2.0, max_chars=400)
    assert best == 0 and sentences == (FIGURE, OTHER)
    assert choose([FIGURE, again], [3.0, 2.9], gap=2.0, max_chars=400) == (0, (FIGURE,))
