"""The event streams, over made-up answer events: /v1/ask's SSE and the chat completion chunks,
their framing, order, the cut at max_tokens, and an error after the stream started."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.api.chat_reply import content
from app.api.openai_compat import Reply
from app.api.schemas import AskOut
from app.api.streaming import ask_events, frame
from app.domain import Answer, AnswerDelta, AnswerDone, AnswerEvent, Citation, CitationsReady
from app.errors import InvalidInput

CITED = [Citation("u", "d", "Báo cáo", "2024-07", "p1", "Tỷ lệ đạt 90% câu hỏi.", 0, 22, 0.8, (0, 22))]
ANSWER = Answer("a1", "q", "u", "Tỷ lệ đạt 90% câu hỏi.", 0.9, CITED)


def events(answer: Answer, pieces: list[str]) -> list[AnswerEvent]:
    return [CitationsReady(answer.citations), *(AnswerDelta(p) for p in pieces), AnswerDone(answer)]


def failing(after: list[AnswerEvent], error: Exception) -> Iterator[AnswerEvent]:
    yield from after
    raise error


def parse(stream: bytes) -> list[tuple[str | None, str]]:
    """Each event's name (None when it has none) and its data lines joined."""
    parsed = []
    for block in stream.decode("utf-8").split("\n\n")[:-1]:
        name, data = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            else:
                assert field == "data", line
                data.append(value)
        parsed.append((name, "\n".join(data)))
    assert stream.endswith(b"\n\n")
    return parsed


def test_a_frame_is_one_event_and_a_newline_never_ends_it() -> None:
    assert frame('{"a":1}', "done") == b'event: done\ndata: {"a":1}\n\n'
    assert parse(frame("one\ntwo", "x")) == [("x", "one\ntwo")]


def test_ask_events_are_citations_deltas_then_the_answer_and_it_is_recorded() -> None:
    recorded: list[tuple[Answer, float]] = []
    stream = b"".join(
        ask_events(iter(events(ANSWER, ["Tỷ lệ đạt ", "90% câu hỏi."])), lambda a, ms: recorded.append((a, ms)), 0.0)
    )
    parsed = parse(stream)
    assert [name for name, _ in parsed] == ["citations", "delta", "delta", "done"]
    assert json.loads(parsed[0][1])[0]["passage_id"] == "p1"
    assert "".join(json.loads(data)["text"] for name, data in parsed if name == "delta") == ANSWER.answer
    assert json.loads(parsed[-1][1]) == json.loads(AskOut.of(ANSWER).model_dump_json())
    assert [a for a, _ in recorded] == [ANSWER] and recorded[0][1] > 0


def test_an_error_after_the_start_is_an_error_event_with_the_error_body() -> None:
    recorded: list[Answer] = []
    broken = failing([CitationsReady(CITED)], InvalidInput("the reader broke"))
    parsed = parse(b"".join(ask_events(broken, lambda a, _: recorded.append(a), 0.0)))
    assert [name for name, _ in parsed] == ["citations", "error"]
    assert json.loads(parsed[-1][1]) == {"error": {"code": "invalid_input", "message": "the reader broke"}}
    assert recorded == []
    unexpected = parse(b"".join(ask_events(failing([], RuntimeError("boom")), lambda a, _: None, 0.0)))
    assert [(name, json.loads(data)) for name, data in unexpected] == [
        ("error", {"error": {"code": "internal_error", "message": "internal error"}})
    ]


def chunks(stream: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The chunks' JSON, and whether the stream ended with [DONE]; every event is bare data."""
    parsed = parse(stream)
    assert all(name is None for name, _ in parsed)
    done = parsed[-1][1] == "[DONE]"
    return [json.loads(data) for _, data in (parsed[:-1] if done else parsed)], done


def reply(limit: int | None = None) -> Reply:
    return Reply(model="u", created=1, limit=limit, prompt_tokens=3)


def text_of(parts: list[dict[str, Any]]) -> str:
    return "".join(p["choices"][0]["delta"].get("content") or "" for p in parts if p["choices"])


def test_chunks_are_the_role_the_pieces_the_sources_then_stop_and_done() -> None:
    answered: list[Answer] = []
    parts, done = chunks(
        b"".join(reply().chunks(iter(events(ANSWER, ["Tỷ lệ ", "đạt 90% câu hỏi."])), answered.append))
    )
    assert done and answered == [ANSWER]
    assert parts[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert text_of(parts) == content(ANSWER)
    assert [p["choices"][0]["finish_reason"] for p in parts] == [None] * (len(parts) - 1) + ["stop"]
    assert [("citations" in p) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert parts[-1]["citations"][0]["passage_id"] == "p1" and parts[-1]["choices"][0]["delta"] == {}
    assert all("usage" not in p for p in parts) and len({p["id"] for p in parts}) == 1


def test_usage_comes_last_when_asked_for() -> None:
    parts, _ = chunks(b"".join(reply().chunks(iter(events(ANSWER, [ANSWER.answer or ""])), print, include_usage=True)))
    assert parts[-1]["choices"] == []
    words = len(content(ANSWER).split())
    assert parts[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": words, "total_tokens": 3 + words}


def test_max_tokens_stops_the_text_mid_stream_and_says_length() -> None:
    parts, done = chunks(b"".join(reply(limit=3).chunks(iter(events(ANSWER, ["Tỷ ", "lệ đạt 90%", " câu"])), print)))
    assert done and text_of(parts) == "Tỷ lệ đạt"
    assert parts[-1]["choices"][0]["finish_reason"] == "length"


def test_a_final_answer_other_than_the_streamed_text_follows_it() -> None:
    """A reader that fell back after streaming part of its answer: nothing sent is taken back."""
    parts, _ = chunks(b"".join(reply().chunks(iter(events(ANSWER, ["Theo tài liệu [1"])), print)))
    assert text_of(parts) == "Theo tài liệu [1\n\n" + content(ANSWER)


def test_an_abstention_is_the_page_s_words_and_stops() -> None:
    abstained = Answer("a2", "q", "u", None, 0.1, CITED)
    parts, _ = chunks(b"".join(reply().chunks(iter(events(abstained, [])), print)))
    assert text_of(parts) == content(abstained) and content(abstained).startswith("Chưa tìm thấy thông tin")
    assert parts[-1]["choices"][0]["finish_reason"] == "stop"


def test_an_error_mid_stream_is_openai_s_error_data_and_no_done() -> None:
    broken = failing([CitationsReady(CITED), AnswerDelta("Tỷ lệ")], InvalidInput("the reader broke"))
    parts, done = chunks(b"".join(reply().chunks(broken, print)))
    assert not done
    assert parts[-1] == {
        "error": {
            "message": "the reader broke",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_input",
        }
    }
