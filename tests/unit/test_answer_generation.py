"""The answerer with a generating reader (a scripted stand-in for the LLM) over a real knowledge
base (fake embedder, real SQLite, FAISS and BM25): cited passages first, the refusal as an
abstention, the extractive fallback with its reason, streaming, follow-ups."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from app.answer.model import AnswerModel
from app.answer.reader import Generated
from app.assistant import Assistant
from app.domain import AnswerDelta, AnswerDone, AnswerEvent, CitationsReady, DocumentInput, PassageHit, Turn
from app.errors import InvalidInput, LLMUnavailable, UnitNotFound
from app.settings import Settings
from app.store import SqlDocumentStore

UNIT = "cuc-vien-thong"
DOCS = [
    DocumentInput(
        title="Hội nghị giao ban tháng 6/2024",
        date="2024-07",
        text="Bộ trưởng yêu cầu trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ, công chức.",
    ),
    DocumentInput(title="Tắt sóng 2G", text="Từ ngày 15/9/2024 sẽ tắt sóng 2G theo quy định của Bộ."),
    DocumentInput(title="Bưu chính", text="Khoảng 800 doanh nghiệp bưu chính đang hoạt động trên thị trường."),
]
QUESTION = "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?"


class Scripted:
    """A generator that writes ``pieces`` (citing with the prompt's numbers), or fails."""

    name = "llm"

    def __init__(self, pieces: Sequence[str] = (), fail_after: int | None = None, refuse: bool = False) -> None:
        self.pieces = list(pieces)
        self.fail_after = fail_after
        self.refuse = refuse
        self.asked: list[tuple[str, list[str]]] = []  # (question, passage ids) per call
        self.rewrites: list[tuple[str, tuple[Turn, ...]]] = []
        self.rewrite_to: str | None = None

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        self.rewrites.append((question, tuple(history)))
        if self.rewrite_to is None:
            raise LLMUnavailable("the LLM is down")
        return self.rewrite_to

    def generate(self, question: str, passages: Sequence[PassageHit]) -> ScriptedGeneration:
        self.asked.append((question, [h.passage.id for h in passages]))
        return ScriptedGeneration(self, len(passages))


class ScriptedGeneration:
    def __init__(self, script: Scripted, passages: int) -> None:
        self.script = script
        self.passages = passages
        self._result: Generated | None = None

    def __iter__(self) -> Iterator[str]:
        for n, piece in enumerate(self.script.pieces):
            if self.script.fail_after is not None and n >= self.script.fail_after:
                raise LLMUnavailable("the LLM did not finish within 30 s")
            yield piece
        if self.script.fail_after is not None:
            raise LLMUnavailable("the LLM did not finish within 30 s")
        # The passages this script cites: the last given, then the first (as [1] and [2]).
        cited = [] if self.script.refuse else [self.passages - 1, 0]
        self._result = Generated(None if self.script.refuse else "".join(self.script.pieces), cited)

    @property
    def result(self) -> Generated:
        assert self._result is not None
        return self._result


@pytest.fixture()
def open_with(tmp_path: Path, fake_embedder: object) -> Callable[..., Assistant]:
    def open_(generator: Scripted | None, **overrides: object) -> Assistant:
        # Threshold 0: the shipped model is fitted on e5's cosines, not the fake embedder's, and
        # these tests are about who answers, not whether the extractive reader dares to.
        overrides = {"abstain_threshold": 0.0, **overrides}
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)  # type: ignore[call-arg, arg-type]
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        assistant = Assistant(
            SqlDocumentStore.open(settings.db_url),
            fake_embedder,  # type: ignore[arg-type]
            AnswerModel.load(),
            settings,
            generator=generator,
        )
        if UNIT not in [u.id for u in assistant.list_units()]:
            assistant.create_unit(UNIT, "Cục Viễn thông")
            assistant.add_documents(UNIT, DOCS)
        return assistant

    return open_


def test_the_written_answer_cites_its_passages_first_in_the_order_of_its_markers(
    open_with: Callable[..., Assistant],
) -> None:
    script = Scripted(["Trợ lý ảo phải trả lời được ", "90% câu hỏi [1][2]."])
    answer = open_with(script, llm_passages=3).ask(QUESTION, UNIT, top_k=3)
    question, given = script.asked[0]
    assert question == QUESTION and len(given) == 3
    assert answer.reader == "llm" and answer.reader_fallback is None
    assert answer.answer == "Trợ lý ảo phải trả lời được 90% câu hỏi [1][2]." and answer.confidence == 1.0
    # The script cites the last passage it was given, then the first: so they come first, in that order.
    assert [c.passage_id for c in answer.citations] == [given[2], given[0], given[1]]
    assert all(c.highlight is None for c in answer.citations)


def test_a_refusal_is_an_abstention_by_the_llm(open_with: Callable[..., Assistant]) -> None:
    answer = open_with(Scripted(refuse=True)).ask("Giá vé máy bay đi Paris là bao nhiêu?", UNIT)
    assert answer.abstained and answer.reader == "llm" and answer.reader_fallback is None
    assert answer.confidence == 0.0 and answer.citations  # the nearest passages are still shown


def test_when_the_llm_fails_the_extractive_reader_answers_and_says_why(open_with: Callable[..., Assistant]) -> None:
    failing = open_with(Scripted(["Trợ lý ảo"], fail_after=0))
    answer = failing.ask(QUESTION, UNIT)
    extractive = open_with(None).ask(QUESTION, UNIT)
    assert answer.reader == "lexical" and answer.reader_fallback == "the LLM did not finish within 30 s"
    assert answer.answer == extractive.answer is not None and "90%" in answer.answer
    assert answer.citations == extractive.citations  # with the answering sentence highlighted


def test_a_stream_gives_citations_then_the_text_as_written_then_the_answer(
    open_with: Callable[..., Assistant],
) -> None:
    events = list(open_with(Scripted(["90% ", "câu hỏi [1]."])).ask_stream(QUESTION, UNIT, top_k=2))
    assert isinstance(events[0], CitationsReady) and len(events[0].citations) == 2
    assert [e.text for e in events if isinstance(e, AnswerDelta)] == ["90% ", "câu hỏi [1]."]
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.answer.answer == "90% câu hỏi [1]." and len(events) == 4


def test_a_failure_mid_stream_keeps_what_was_sent_and_ends_with_the_fallback(
    open_with: Callable[..., Assistant],
) -> None:
    events: list[AnswerEvent] = list(
        open_with(Scripted(["90% ", "câu", " hỏi"], fail_after=2)).ask_stream(QUESTION, UNIT)
    )
    assert [e.text for e in events if isinstance(e, AnswerDelta)] == ["90% ", "câu"]
    done = events[-1]
    assert isinstance(done, AnswerDone)
    assert done.answer.reader == "lexical" and done.answer.reader_fallback and "90%" in (done.answer.answer or "")


@pytest.mark.parametrize("generator", [None, Scripted(["90% [1]"], fail_after=0)], ids=["alone", "as fallback"])
def test_an_extractive_stream_sends_its_answer_as_one_delta(
    open_with: Callable[..., Assistant], generator: Scripted | None
) -> None:
    events = list(open_with(generator).ask_stream(QUESTION, UNIT))
    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    done = events[-1]
    assert isinstance(done, AnswerDone) and deltas == [done.answer.answer] and done.answer.reader == "lexical"


def test_a_bad_question_or_unit_raises_before_any_event(open_with: Callable[..., Assistant]) -> None:
    assistant = open_with(Scripted(["x [1]"]))
    with pytest.raises(InvalidInput):
        assistant.ask_stream("   ", UNIT)
    with pytest.raises(UnitNotFound):
        assistant.ask_stream(QUESTION, "khong-co")


def test_a_follow_up_is_rewritten_by_the_llm_and_the_rewrite_is_searched(
    open_with: Callable[..., Assistant],
) -> None:
    script = Scripted(["Khoảng 800 doanh nghiệp [1]."])
    script.rewrite_to = "Có bao nhiêu doanh nghiệp bưu chính đang hoạt động?"
    history = [Turn("user", "Tắt sóng 2G khi nào?"), Turn("assistant", "Từ ngày 15/9/2024 [1].")]
    answer = open_with(script).ask("Còn bưu chính thì sao?", UNIT, history=history)
    assert script.rewrites == [("Còn bưu chính thì sao?", tuple(history))]
    assert script.asked[0][0] == script.rewrite_to
    assert answer.question == "Còn bưu chính thì sao?" and answer.rewritten_question == script.rewrite_to
    assert "rewrite" in answer.timings_ms


def test_a_failed_rewrite_searches_the_question_as_asked(open_with: Callable[..., Assistant]) -> None:
    script = Scripted(["90% [1]."])  # rewrite_to None: the rewrite fails
    answer = open_with(script).ask(QUESTION, UNIT, history=[Turn("user", "Chào")])
    assert script.asked[0][0] == QUESTION and answer.rewritten_question is None and answer.reader == "llm"


def test_without_an_llm_the_history_is_ignored(open_with: Callable[..., Assistant]) -> None:
    assistant = open_with(None)
    with_history = assistant.ask(QUESTION, UNIT, history=[Turn("user", "Tắt sóng 2G khi nào?")])
    without = assistant.ask(QUESTION, UNIT)
    assert with_history.answer == without.answer and with_history.citations == without.citations
    assert with_history.rewritten_question is None
