"""Questions to answers: retrieve from the knowledge base, hand the hits to a reader, cite.

The reader is injected (``app.answer.reader.Reader``): the answerer owns what every reader
shares, the question's checks, the abstention threshold, the order of the citations and the
answer's timings, and nothing of how an answer is found in a passage.
"""

from __future__ import annotations

import uuid

from app.answer.evidence import Evidence, sentence_candidates
from app.answer.question import profile
from app.answer.reader import Reader
from app.core.document_periods import DocumentPeriods
from app.core.knowledge_base import KnowledgeBase
from app.domain import Answer, Citation, PassageHit
from app.errors import InvalidInput
from app.settings import Settings
from app.stopwatch import Stopwatch
from app.text.normalize import normalize


class Answerer:
    def __init__(self, knowledge: KnowledgeBase, reader: Reader, settings: Settings) -> None:
        self.knowledge = knowledge
        self.reader = reader
        self.settings = settings
        self.threshold = settings.abstain_threshold if settings.abstain_threshold is not None else reader.threshold
        self._document_periods = DocumentPeriods(knowledge.store)

    def evidence(self, question: str, unit: str | None = None) -> Evidence:
        """What the lexical reader's model is fitted on (``app.tuning``), whichever reader answers."""
        question = normalize(question)
        hits = self.knowledge.retrieve(question, unit, self.settings.answer_passages)
        idf = self.knowledge.idf(self.knowledge.scope(unit))
        asked = profile(question)
        periods = {h.passage.id: self._document_periods(h) for h in hits}
        return Evidence(asked, hits, sentence_candidates(asked, hits, idf), idf, periods)

    def ask(self, question: str, unit: str | None = None, top_k: int = 5) -> Answer:
        """``Answer.timings_ms``: every stage's time (normalize, embed, tokens, faiss, bm25,
        fusion, store, answer) and the retrieval's total (retrieve)."""
        watch = Stopwatch()
        with watch.lap("normalize"):
            question = normalize(question)
        self._check(question, top_k)
        s = self.settings
        with watch.lap("retrieve"):
            hits = self.knowledge.retrieve(question, unit, max(top_k, s.answer_passages), watch)
        with watch.lap("answer"):
            units = [unit] if unit is not None else self.knowledge.scope(None)
            reading = self.reader.read(
                profile(question), hits[: s.answer_passages], self.knowledge.idf(units), self._document_periods
            )

        answer_text: str | None = None
        confidence = 0.0
        order = list(range(len(hits)))
        highlight: dict[int, tuple[int, int]] = {}
        if reading is not None:
            confidence = reading.confidence
            # The passage that holds the answer is cited first.
            order.remove(reading.hit)
            order.insert(0, reading.hit)
            highlight[reading.hit] = (reading.start, reading.end)
            if confidence >= self.threshold:
                answer_text = reading.text
        return Answer(
            id=uuid.uuid4().hex,
            question=question,
            unit=unit,
            answer=answer_text,
            confidence=round(confidence, 4),
            citations=[cite(hits[i], highlight.get(i)) for i in order[:top_k]],
            timings_ms=watch.laps_ms,
            draft=reading.text if reading is not None else None,
        )

    def _check(self, question: str, top_k: int) -> None:
        s = self.settings
        if not question:
            raise InvalidInput("the question is empty")
        if len(question) > s.max_question_chars:
            raise InvalidInput(f"the question is longer than {s.max_question_chars} characters")
        if not 1 <= top_k <= s.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {s.max_top_k}")


def cite(hit: PassageHit, highlight: tuple[int, int] | None) -> Citation:
    p = hit.passage
    return Citation(
        unit=p.unit,
        document_id=p.document_id,
        title=hit.title,
        date=hit.date,
        passage_id=p.id,
        text=p.text,
        start=p.start,
        end=p.end,
        score=round(hit.score, 6),
        highlight=highlight,
    )
