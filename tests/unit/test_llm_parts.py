"""The LLM reader's parts: markers to citations as text streams, the refusal, the circuit
breaker on a fake clock, the rewritten question, and the chat client over httpx's mock transport."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from app.answer.llm.breaker import CircuitBreaker, State
from app.answer.llm.citing import Citing
from app.answer.llm.client import ChatClient, ChatSettings, Message
from app.answer.llm.prompt import REFUSAL, answer_messages, standalone
from app.answer.llm.reader import LLMReader
from app.domain import Passage, PassageHit
from app.errors import LLMUnavailable


def read(pieces: list[str], passages: int = 3) -> tuple[list[str], Citing]:
    citing = Citing(passages)
    shown = [s for p in pieces if (s := citing.feed(p))]
    if rest := citing.finish():
        shown.append(rest)
    return shown, citing


def test_markers_are_renumbered_in_the_order_the_answer_first_cites_them() -> None:
    shown, citing = read(["Doanh thu đạt 68.400 tỷ đồng [3], tăng 5% [1][3]."])
    assert "".join(shown) == "Doanh thu đạt 68.400 tỷ đồng [1], tăng 5% [2][1]."
    assert citing.cited == [2, 0] and not citing.refused


def test_a_marker_split_across_pieces_is_held_back_until_it_is_whole() -> None:
    shown, citing = read(["Đạt 90%", " [", "2", "] và 34 đơn vị", " [1", ", 2]."])
    assert shown[0] == "Đạt 90% [1] và 34 đơn vị"  # shown once it cites; then " [1, 2]" waits for its "]"
    assert "".join(shown) == "Đạt 90% [1] và 34 đơn vị [2][1]."
    assert citing.cited == [1, 0]


def test_nothing_is_shown_until_the_answer_cites_a_passage() -> None:
    citing = Citing(2)
    assert citing.feed("Tỷ lệ đạt ") == "" and citing.feed("90% [7]") == ""  # [7] names no passage
    assert citing.feed(" theo báo cáo [2]") == "Tỷ lệ đạt 90% theo báo cáo [1]"
    uncited, citing = read(["Tỷ lệ đạt 90%."])
    assert uncited == [] and citing.cited == [] and not citing.refused


def test_numbers_that_name_no_passage_are_dropped_from_text_and_citations() -> None:
    shown, citing = read(["Đạt 90% [7] theo báo cáo [0][2]."], passages=2)
    assert "".join(shown) == "Đạt 90% theo báo cáo [1]."
    assert citing.cited == [1]
    # The space before a dropped marker goes with it, when it came in an earlier piece too.
    shown, _ = read(["Theo [1] yêu cầu của Bộ ", "[9]", "."], passages=2)
    assert "".join(shown) == "Theo [1] yêu cầu của Bộ."


def test_brackets_that_are_not_markers_stay_text() -> None:
    shown, _ = read(["Điều 5 [Nghị định] quy định rõ [1]."])
    assert "".join(shown) == "Điều 5 [Nghị định] quy định rõ [1]."


@pytest.mark.parametrize(
    "pieces",
    [
        [REFUSAL],
        ["KHÔNG ", "CÓ", " THÔNG", " TIN."],
        ["**Không có thông tin**"],
        ["Xin lỗi, ", REFUSAL.lower(), " trong các đoạn trích."],
    ],
)
def test_the_refusal_is_recognised_and_none_of_it_is_shown(pieces: list[str]) -> None:
    shown, citing = read(pieces)
    assert citing.refused
    if pieces[0].upper().startswith(("KHÔNG", "**KHÔNG")):
        assert shown == []  # held back while it could still be the refusal


def test_an_answer_that_starts_like_the_refusal_is_shown_once_it_is_not() -> None:
    shown, citing = read(["Không ", "có doanh nghiệp nào vi phạm [1]."])
    assert not citing.refused and "".join(shown) == "Không có doanh nghiệp nào vi phạm [1]."


def test_the_breaker_opens_after_failures_in_a_row_and_probes_once_after_the_cool_down() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_s=30, clock=lambda: now[0])
    breaker.failed()
    breaker.succeeded()  # a success in between: the count starts again
    breaker.failed()
    assert breaker.allow() and breaker.state is State.CLOSED
    breaker.failed()
    assert breaker.state is State.OPEN and not breaker.allow()
    now[0] = 31.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # the others wait for its outcome
    breaker.failed()  # a failed probe opens it again at once
    assert breaker.state is State.OPEN and breaker.retry_in() == 30
    now[0] = 62.0
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state is State.CLOSED and breaker.allow() and breaker.allow()


def test_an_abandoned_probe_lets_the_next_caller_probe() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=1, reset_s=5, clock=lambda: now[0])
    breaker.failed()
    now[0] = 6.0
    assert breaker.allow()
    breaker.abandoned()
    assert breaker.allow()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Doanh thu năm 2022 của Cục Viễn thông là bao nhiêu?", "Doanh thu năm 2022 của Cục Viễn thông là bao nhiêu?"),
        ('\nCâu hỏi đầy đủ: "Doanh thu năm 2022 là bao nhiêu?"\nGiải thích…', "Doanh thu năm 2022 là bao nhiêu?"),
        ("   ", "còn năm 2022?"),
        ("x" * 2000, "còn năm 2022?"),
    ],
)
def test_the_rewritten_question_is_the_first_line_or_the_question_as_asked(reply: str, expected: str) -> None:
    assert standalone(reply, "còn năm 2022?", max_chars=1000) == expected


def hit(n: int, text: str, date: str | None = "2024-07") -> PassageHit:
    return PassageHit(Passage(f"p{n}", f"d{n}", "u", 0, 0, len(text), text), f"Báo cáo {n}", date, 1.0 / n)


def test_the_prompt_numbers_the_passages_with_their_titles_and_dates_then_asks() -> None:
    messages = answer_messages("Tỷ lệ là bao nhiêu?", [hit(1, "Tỷ lệ 90%."), hit(2, "Khác.", None)])
    assert messages[0].role == "system" and REFUSAL in messages[0].content
    assert messages[1].content == (
        "Các đoạn trích:\n\n[1] Báo cáo 1 (2024-07)\nTỷ lệ 90%.\n\n[2] Báo cáo 2\nKhác.\n\nCâu hỏi: Tỷ lệ là bao nhiêu?"
    )


def sse(*pieces: str, done: bool = True) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + (["data: [DONE]\n\n"] if done else [])
    return "".join(lines).encode()


def client(handler: Callable[[httpx.Request], httpx.Response], **settings: object) -> ChatClient:
    config = ChatSettings(base_url="http://llm.test/v1", model="m", api_key="k", **settings)  # type: ignore[arg-type]
    return ChatClient(config, transport=httpx.MockTransport(handler))


def test_the_client_streams_the_deltas_and_sends_the_openai_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=sse("Tỷ lệ ", "90% [1]."), headers={"content-type": "text/event-stream"})

    pieces = list(client(handler).stream([Message("user", "hỏi")], max_tokens=50))
    assert pieces == ["Tỷ lệ ", "90% [1]."]
    request = seen[0]
    assert request.url == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k"
    body = json.loads(request.content)
    assert body["model"] == "m" and body["stream"] is True and body["max_tokens"] == 50
    assert body["messages"] == [{"role": "user", "content": "hỏi"}]


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(503, text="overloaded"), "HTTP 503"),
        (httpx.Response(200, content=b"data: {not json\n\n"), "not JSON"),
        (httpx.Response(200, content=b'data: {"error": {"message": "oom"}}\n\n'), "failed while answering"),
        (httpx.Response(200, content=b'data: {"object": "x"}\n\n'), "without choices"),
    ],
)
def test_every_bad_reply_is_llm_unavailable_with_its_reason(response: httpx.Response, reason: str) -> None:
    with pytest.raises(LLMUnavailable, match=reason):
        list(client(lambda _: response).stream([Message("user", "hỏi")], 10))


def test_a_timeout_and_a_refused_connection_are_llm_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(LLMUnavailable, match="within 2 s"):
        list(client(slow, timeout_s=2.0).stream([Message("user", "hỏi")], 10))
    # A real refused connection: nothing listens on port 1 of loopback.
    refused = ChatClient(ChatSettings(base_url="http://127.0.0.1:1/v1", model="m", timeout_s=2.0))
    with pytest.raises(LLMUnavailable, match="cannot reach"):
        refused.complete([Message("user", "hỏi")], 10)


def test_the_reader_counts_failures_and_skips_the_llm_while_its_circuit_is_open() -> None:
    calls: list[int] = []

    def down(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502)

    reader = LLMReader(client(down), CircuitBreaker(failures=2, reset_s=60), max_tokens=50, max_question_chars=100)
    for _ in range(2):
        with pytest.raises(LLMUnavailable, match="HTTP 502"):
            list(reader.generate("q", [hit(1, "a")]))
    with pytest.raises(LLMUnavailable, match="paused"):
        list(reader.generate("q", [hit(1, "a")]))
    assert len(calls) == 2


def test_an_uncited_reply_is_not_an_answer_and_a_refusal_is_one() -> None:
    def uncited(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse("Tỷ lệ là 90%."))

    reader = LLMReader(client(uncited), CircuitBreaker(3, 30), max_tokens=50, max_question_chars=100)
    with pytest.raises(LLMUnavailable, match="cites no passage"):
        list(reader.generate("q", [hit(1, "a")]))

    refusing = LLMReader(client(lambda _: httpx.Response(200, content=sse(REFUSAL))), CircuitBreaker(3, 30), 50, 100)
    generation = refusing.generate("q", [hit(1, "a")])
    assert list(generation) == [] and generation.result.text is None
