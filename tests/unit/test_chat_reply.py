"""How an answer becomes a chat reply: the sources under it, the abstention, the word cut, the counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.api.chat_reply import ABSTAIN, content, count_words, cut, sources, strip_sources
from app.domain import Answer, Citation


def citation(title: str, date: str | None, document: str | None = None) -> Citation:
    return Citation("u", document or title, title, date, "p", "text", 0, 4, 0.5)


def test_sources_are_numbered_with_dates_as_the_ask_page_writes_them() -> None:
    cited = [citation("Báo cáo tháng", "2024-07"), citation("", None), citation("Thông báo", "2024-07-15")]
    assert (
        sources(cited)
        == "\n\nNguồn:\n[1] Báo cáo tháng (tháng 7/2024)\n[2] (không có tiêu đề)\n[3] Thông báo (15/7/2024)"
    )
    assert sources([]) == ""


def test_a_document_cited_twice_is_one_line_with_both_numbers() -> None:
    cited = [citation("A", None), citation("B", "2024-07"), citation("A", None, document="A")]
    assert sources(cited) == "\n\nNguồn:\n[1][3] A\n[2] B (tháng 7/2024)"


def test_an_answer_is_its_text_then_its_sources_and_an_abstention_the_nearest_passages() -> None:
    cited = [citation("Báo cáo", "2024-07")]
    answered = Answer("a", "q", None, "Đạt 90%.", 0.9, cited)
    assert content(answered) == "Đạt 90%.\n\nNguồn:\n[1] Báo cáo (tháng 7/2024)"
    abstained = Answer("b", "q", None, None, 0.1, cited)
    assert content(abstained) == ABSTAIN + "\n\nCác đoạn gần nhất:\n[1] Báo cáo (tháng 7/2024)"
    assert content(Answer("c", "q", None, None, 0.0, [])) == ABSTAIN


def test_a_reply_without_its_sources_is_its_text() -> None:
    cited = [citation("Báo cáo", "2024-07")]
    for answer in (Answer("a", "q", None, "Đạt 90%.", 0.9, cited), Answer("b", "q", None, None, 0.1, cited)):
        assert strip_sources(content(answer)) == (answer.answer or ABSTAIN)
    assert strip_sources("Không có nguồn.") == "Không có nguồn."


def test_cut_keeps_whole_words_up_to_the_limit() -> None:
    assert cut("Đạt  90% câu hỏi.\n\nNguồn:", 2) == "Đạt  90%"
    assert cut("Đạt 90%", 5) == "Đạt 90%"
    assert cut("Đạt 90%", None) == "Đạt 90%"
    assert count_words(" Đạt  90%\ncâu ") == 3


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=40), st.integers(min_value=1, max_value=12))
def test_cut_is_a_prefix_with_at_most_the_limit_and_stable_as_text_grows(text: str, limit: int) -> None:
    short = cut(text, limit)
    assert text.startswith(short)
    assert count_words(short) == min(limit, count_words(text))
    # What a stream has sent never needs taking back: cutting a longer text keeps the shorter cut's words.
    for end in range(len(text) + 1):
        assert cut(text, limit).startswith(cut(text[:end], limit).rstrip()) or count_words(text[:end]) > limit
