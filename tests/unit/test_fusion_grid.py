"""The fusion grid measures what the assistant itself would retrieve with the same settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.domain import DocumentInput
from app.evaluation.dataset import Question
from app.evaluation.fusion_grid import fusion_grid
from app.evaluation.outcomes import contains_answer
from app.settings import Settings
from app.store import SqlDocumentStore
from app.text.normalize import normalize

UNIT = "cuc-vien-thong"
DOCS = [
    DocumentInput(title="Tắt sóng 2G", text="Từ ngày 15/9/2024 sẽ tắt sóng 2G. Nhà mạng hỗ trợ người dân đổi máy."),
    DocumentInput(title="Bưu chính", text="Khoảng 800 doanh nghiệp bưu chính hoạt động. Chất lượng được đo theo quý."),
    DocumentInput(title="Trợ lý ảo", text="Trợ lý ảo phải trả lời được 90% câu hỏi. Có 34 đơn vị thuộc Bộ."),
    DocumentInput(title="Chuyển đổi số", text="Năm 2024 là năm dữ liệu số. Các tỉnh lập kế hoạch chuyển đổi số."),
]
QUESTIONS = [
    Question("q1", "Khi nào tắt sóng 2G?", ("15/9/2024",)),
    Question("q2", "Có bao nhiêu doanh nghiệp bưu chính?", ("800 doanh nghiệp",)),
    Question("q3", "Trợ lý ảo phải trả lời bao nhiêu phần trăm câu hỏi?", ("90%",)),
    Question("q4", "Năm nào là năm dữ liệu số?", ("Năm 2024",)),
    Question("q5", "Bộ có bao nhiêu đơn vị?", ("34 đơn vị",)),
    Question("q6", "Ai là giám đốc sở?", ()),  # unanswerable: not counted
]


@pytest.fixture()
def assistant(
    tmp_path: Path, make_fake_embedder: Callable[..., object], settings_factory: Callable[..., Settings]
) -> Assistant:
    settings = settings_factory(tmp_path)
    a = Assistant(SqlDocumentStore.open(settings.db_url), make_fake_embedder(), AnswerModel.load(), settings)  # type: ignore[arg-type]
    a.create_unit(UNIT, "Cục Viễn thông")
    a.add_documents(UNIT, DOCS)
    return a


def test_grid_recall_agrees_with_the_assistants_own_retrieval(assistant: Assistant) -> None:
    s = assistant.settings
    points = fusion_grid(assistant, QUESTIONS, [s.rrf_k, 10], [s.lexical_weight, 0.0, 5.0])
    assert [(p.rrf_k, p.lexical_weight) for p in points] == [
        (s.rrf_k, s.lexical_weight),
        (s.rrf_k, 0.0),
        (s.rrf_k, 5.0),
        (10, s.lexical_weight),
        (10, 0.0),
        (10, 5.0),
    ]
    assert {p.questions for p in points} == {5}

    firsts = [assistant.retrieve(normalize(q.question), None, 5) for q in QUESTIONS if q.answerable]
    answers = [q.answers for q in QUESTIONS if q.answerable]
    pairs = list(zip(firsts, answers, strict=True))
    at_1 = sum(contains_answer(hits[0].passage.text, a) for hits, a in pairs) / 5
    at_5 = sum(any(contains_answer(h.passage.text, a) for h in hits) for hits, a in pairs) / 5
    shipped = points[0]
    assert (shipped.recall_at_1, shipped.recall_at_5) == (at_1, at_5)
    assert shipped.recall_at_1 > 0
