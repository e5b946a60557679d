"""The LLM reader over real HTTP, both ends: troly served by uvicorn, asking a real
OpenAI-compatible server. A scripted one (its replies chosen here) checks what troly makes of a
reply: markers to citations, the refusal, the follow-up's rewrite, the SDK. llama.cpp's server
(xllamacpp) on SmolLM2, far too small to answer Vietnamese, checks the plumbing against a real
LLM server: streaming, the rewrite, and a server killed by its PID while questions are asked."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from llm_servers import LlamaServer, free_port, llama_server, scripted_llm
from troly_testkit import read_events

from app.assistant import Assistant
from app.domain import DocumentInput
from app.settings import Settings

UNIT = "bo-tttt"
Q90 = "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?"
PARIS = "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?"
DOCS = [
    DocumentInput(
        title="Hội nghị giao ban tháng 6/2024",
        date="2024-07",
        text="Bộ trưởng yêu cầu trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ, công chức.\n\n"
        "Tất cả 34 đơn vị thuộc Bộ phải xây dựng trợ lý ảo cho đơn vị mình trong năm 2024.",
    ),
    DocumentInput(
        title="Tắt sóng 2G",
        date="2024-08",
        text="Từ ngày 15/9/2024 các nhà mạng sẽ tắt sóng 2G. Cục Viễn thông hỗ trợ người dân đổi máy.",
    ),
    DocumentInput(
        title="Bưu chính",
        text="Khoảng 800 doanh nghiệp bưu chính đang hoạt động. Trợ lý ảo của Cục Bưu điện đang thử nghiệm.",
    ),
]


def seed(assistant: Assistant, _: Settings) -> None:
    assistant.create_unit(UNIT, "Bộ Thông tin và Truyền thông")
    assistant.add_documents(UNIT, DOCS)


def ask(client: httpx.Client, question: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"question": question, "unit": UNIT, "top_k": 3, **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def ask_streamed(client: httpx.Client, question: str, **body: Any) -> list[tuple[str, Any]]:
    with client.stream("POST", "/v1/ask", json={"question": question, "unit": UNIT, "stream": True, **body}) as r:
        assert r.status_code == 200, r.read()
        return read_events(r)


# -- what troly makes of a reply: a scripted LLM -------------------------------------------------
@pytest.fixture(scope="module")
def scripted(
    tmp_path_factory: pytest.TempPathFactory,
    start_server: Callable[..., AbstractContextManager[Any]],
    serve: Callable[..., AbstractContextManager[str]],
) -> Iterator[tuple[httpx.Client, Any]]:
    llm = scripted_llm()
    with serve(llm) as llm_url:
        settings = {"reader": "llm", "llm_base_url": llm_url + "/v1", "llm_model": "scripted", "llm_passages": 3}
        data_dir = tmp_path_factory.mktemp("llm-scripted")
        with start_server(data_dir, prepare=seed, **settings) as served, httpx.Client(base_url=served.url) as client:
            yield client, llm.state


def prompt_passages(request: dict[str, Any]) -> dict[int, str]:
    """The passages a prompt numbered: {n: text}."""
    prompt = request["messages"][-1]["content"]
    blocks = prompt.split("Các đoạn trích:\n\n", 1)[1].rsplit("\n\nCâu hỏi:", 1)[0].split("\n\n[")
    return {int(b.lstrip("[").split("]", 1)[0]): b.split("\n", 1)[1] for b in blocks}


def test_markers_become_citations_cited_first_and_unknown_numbers_drop(scripted: tuple[httpx.Client, Any]) -> None:
    client, llm = scripted
    answer = ask(client, Q90)
    request = llm.requests[-1]
    assert request["model"] == "scripted" and request["stream"] is True
    assert request["messages"][0]["role"] == "system" and "KHÔNG CÓ THÔNG TIN" in request["messages"][0]["content"]
    # The script wrote "[2][1] … [9]": the prompt's 2nd passage is [1], its 1st is [2], 9 names none.
    assert answer["answer"] == "Trợ lý ảo phải trả lời được 90% câu hỏi [1][2], theo yêu cầu của Bộ."
    assert answer["reader"] == "llm" and answer["reader_fallback"] is None and not answer["abstained"]
    given = prompt_passages(request)
    assert [c["text"] for c in answer["citations"][:2]] == [given[2], given[1]]
    assert len(answer["citations"]) == 3


def test_the_refusal_is_an_abstention(scripted: tuple[httpx.Client, Any]) -> None:
    answer = ask(scripted[0], PARIS)
    assert answer["abstained"] and answer["answer"] is None and answer["reader"] == "llm"


def test_the_stream_sends_the_text_as_the_llm_writes_it(scripted: tuple[httpx.Client, Any]) -> None:
    events = ask_streamed(scripted[0], Q90)
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done" and names.count("delta") > 3
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text == events[-1][1]["answer"] and events[-1][1]["reader"] == "llm"


def test_a_follow_up_is_rewritten_then_answered(scripted: tuple[httpx.Client, Any]) -> None:
    client, llm = scripted
    history = [{"role": "user", "content": "Tắt sóng 2G khi nào?"}, {"role": "assistant", "content": "15/9/2024 [1]."}]
    answer = ask(client, "Còn trợ lý ảo thì sao?", history=history)
    rewrite, answering = llm.requests[-2:]
    assert "Tắt sóng 2G khi nào?" in rewrite["messages"][-1]["content"]
    assert answer["rewritten_question"] == Q90 and answering["messages"][-1]["content"].endswith(f"Câu hỏi: {Q90}")
    assert "90%" in answer["answer"]


def test_the_sdk_gets_the_llms_answer_with_its_sources(
    scripted: tuple[httpx.Client, Any], admin_headers: dict[str, str]
) -> None:
    client = scripted[0]
    key = admin_headers["Authorization"].removeprefix("Bearer ")
    sdk = openai.OpenAI(base_url=str(client.base_url) + "/v1", api_key=key, max_retries=0, timeout=60)
    reply = sdk.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": Q90}])
    content = reply.choices[0].message.content or ""
    assert content.startswith("Trợ lý ảo phải trả lời được 90% câu hỏi [1][2]")
    assert "Nguồn:" in content
    streamed = sdk.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": Q90}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == content


# -- a real LLM server: llama.cpp on SmolLM2 ------------------------------------------------------
@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    with llama_server() as server:
        yield server


def llm_settings(base_url: str, **more: object) -> dict[str, object]:
    # Few tokens, greedy: the model only has to answer, quickly and the same way each time.
    return {
        "reader": "llm",
        "llm_base_url": base_url,
        "llm_model": "smollm2",
        "llm_max_tokens": 24,
        "llm_temperature": 0.0,
        "llm_passages": 2,
        **more,
    }


@pytest.fixture(scope="module")
def on_llama(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]], llama: Any
) -> Iterator[httpx.Client]:
    settings = llm_settings(llama.base_url)
    data_dir = tmp_path_factory.mktemp("llm-llama")
    with start_server(data_dir, prepare=seed, **settings) as served, httpx.Client(base_url=served.url, timeout=99) as c:
        yield c


def test_a_real_llm_server_answers_whole_and_streamed_alike(on_llama: httpx.Client) -> None:
    whole = ask(on_llama, Q90)
    events = ask_streamed(on_llama, Q90, top_k=3)
    done = events[-1][1]
    # SmolLM2 writes what it writes; greedy decoding writes it the same way twice.
    assert {k: v for k, v in done.items() if k != "id"} == {k: v for k, v in whole.items() if k != "id"}
    if done["reader"] == "llm":  # it cited a passage: the text came as it was written, in pieces
        deltas = [data["text"] for name, data in events if name == "delta"]
        assert len(deltas) > 1 and "".join(deltas) == done["answer"]
        assert re.search(r"\[\d\]", done["answer"])
    else:  # it cited none: troly does not pass on uncited text
        assert done["reader"] == "lexical" and "cites no passage" in done["reader_fallback"]


def test_a_real_llm_server_rewrites_a_follow_up(on_llama: httpx.Client) -> None:
    history = [{"role": "user", "content": Q90}, {"role": "assistant", "content": "90% [1]."}]
    answer = ask(on_llama, "Còn tắt sóng 2G thì sao?", history=history)
    assert answer["rewritten_question"] and answer["rewritten_question"] != "Còn tắt sóng 2G thì sao?"


def test_killing_the_llm_loses_no_question_and_the_breaker_probes_it_back(
    tmp_path: Path, start_server: Callable[..., AbstractContextManager[Any]]
) -> None:
    timeout_s = 20.0
    port = free_port()
    server = LlamaServer(port).start()
    settings = llm_settings(server.base_url, llm_timeout_s=timeout_s, llm_breaker_failures=2, llm_breaker_reset_s=2)
    try:
        # Every answer must arrive within the LLM's deadline plus the extractive fallback: a hung
        # request fails here on the client's own timeout.
        with (
            start_server(tmp_path, prepare=seed, **settings) as served,
            httpx.Client(base_url=served.url, timeout=timeout_s + 30) as client,
        ):
            ask(client, Q90)  # the model's first answer fills its caches
            answers, errors = ask_while(client, 3, then=server.kill)  # killed mid-run, by its PID
            assert not errors, errors
            assert len(answers) == 18 and all(a["citations"] for a in answers)
            fallbacks = [a["reader_fallback"] for a in answers if a["reader_fallback"]]
            assert fallbacks and all(a["reader"] == "lexical" for a in answers if a["reader_fallback"])
            # Two failures in a row open the circuit: later questions do not wait on a dead server.
            assert any("paused" in f for f in fallbacks), fallbacks

            server = LlamaServer(port).start()  # back on the same address
            time.sleep(2.5)  # past the cool-down: the next question probes it, and it answers
            assert ask(client, Q90)["reader"] == "llm"
    finally:
        server.kill()


def ask_while(
    client: httpx.Client, threads: int, then: Callable[[], None]
) -> tuple[list[dict[str, Any]], list[BaseException]]:
    """``threads`` clients asking six questions each; ``then`` runs once two answers are in."""
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def asker() -> None:
        try:
            for question in (Q90, "Khi nào tắt sóng 2G?", "Có bao nhiêu doanh nghiệp bưu chính?") * 2:
                answers.append(ask(client, question))
        except BaseException as exc:
            errors.append(exc)

    running = [threading.Thread(target=asker) for _ in range(threads)]
    for thread in running:
        thread.start()
    while len(answers) < 2 and not errors:
        time.sleep(0.05)
    then()
    for thread in running:
        thread.join()
    return answers, errors
