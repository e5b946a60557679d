"""Questions to answers: retrieve from the knowledge base, hand the hits to a reader, cite.

The reader is injected (``app.answer.reader.Reader``): the answerer owns what every reader
shares, the question's checks, the abstention threshold, the order of the citations and the
answer's timings, and nothing of how an answer is found in a passage. A ``Generator`` (the LLM
reader), when given, writes the answer instead; whenever it cannot (``LLMUnavailable``), the
extractive reader answers and the answer says why (``Answer.reader_fallback``).

Answers stream (``ask_stream``): the retrieved passages, the text as it is written, the whole
answer. ``ask`` is the same answer, whole.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.answer.evidence import Evidence, sentence_candidates
from app.answer.question import profile
from app.answer.reader import Generated, Generator, Reader
from app.core.document_periods import DocumentPeriods
from app.core.knowledge_base import KnowledgeBase
from app.domain import Answer, AnswerDelta, AnswerDone, AnswerEvent, Citation, CitationsReady, PassageHit, Turn
from app.errors import InvalidInput, LLMUnavailable
from app.settings import Settings
from app.stopwatch import Stopwatch
from app.text.normalize import normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Retrieved:
    question: str  # normalised, as asked
    searched: str  # what retrieval searched: the question, or the follow-up rewritten to stand alone
    unit: str | None
    top_k: int
    hits: list[PassageHit]
    watch: Stopwatch


class Answerer:
    def __init__(
        self, knowledge: KnowledgeBase, reader: Reader, settings: Settings, generator: Generator | None = None
    ) -> None:
        """``reader``: the extractive reader, which answers alone or as ``generator``'s fallback."""
        self.knowledge = knowledge
        self.reader = reader
        self.generator = generator
        self.settings = settings
        self.threshold = settings.abstain_threshold if settings.abstain_threshold is not None else reader.threshold
        self._document_periods = DocumentPeriods(knowledge.store)

    @property
    def reader_name(self) -> str:
        """The configured reader: the generator's name when there is one, else the extractive one's."""
        return self.generator.name if self.generator is not None else self.reader.name

    def evidence(self, question: str, unit: str | None = None) -> Evidence:
        """What the lexical reader's model is fitted on (``app.tuning``), whichever reader answers."""
        question = normalize(question)
        hits = self.knowledge.retrieve(question, unit, self.settings.answer_passages)
        idf = self.knowledge.idf(self.knowledge.scope(unit))
        asked = profile(question)
        periods = {h.passage.id: self._document_periods(h) for h in hits}
        return Evidence(asked, hits, sentence_candidates(asked, hits, idf), idf, periods)

    def ask(self, question: str, unit: str | None = None, top_k: int = 5, history: Sequence[Turn] = ()) -> Answer:
        """``Answer.timings_ms``: every stage's time (normalize, embed, tokens, faiss, bm25,
        fusion, store, answer; rewrite and llm with the LLM reader) and the retrieval's total
        (retrieve). ``history``: the conversation before the question, which only the LLM reader
        reads (to rewrite a follow-up into a standalone question); the extractive ones ignore it."""
        retrieved = self._retrieve(question, unit, top_k, history)
        if self.generator is None:
            return self._extract(retrieved)
        return _last(self._generate(self.generator, retrieved))

    def ask_stream(
        self, question: str, unit: str | None = None, top_k: int = 5, history: Sequence[Turn] = ()
    ) -> Iterator[AnswerEvent]:
        """The answer's events: ``CitationsReady`` (retrieval's order), ``AnswerDelta`` pieces of
        the text (one for an extractive answer, none when abstaining), then ``AnswerDone``.

        Checks the question, rewrites it and retrieves before returning, so that a bad question or
        an unknown unit raises here, before a caller has started its response."""
        retrieved = self._retrieve(question, unit, top_k, history)
        return self._events(retrieved)

    def _events(self, retrieved: _Retrieved) -> Iterator[AnswerEvent]:
        yield CitationsReady([cite(h, None) for h in retrieved.hits[: retrieved.top_k]])
        if self.generator is not None:
            yield from self._generate(self.generator, retrieved)
            return
        answer = self._extract(retrieved)
        if answer.answer is not None:
            yield AnswerDelta(answer.answer)
        yield AnswerDone(answer)

    def _retrieve(self, question: str, unit: str | None, top_k: int, history: Sequence[Turn]) -> _Retrieved:
        watch = Stopwatch()
        self._check(question, top_k)
        with watch.lap("normalize"):
            question = normalize(question)
        if not question:
            raise InvalidInput("the question is empty")
        searched = question
        if history and self.generator is not None:
            with watch.lap("rewrite"):
                searched = self._rewrite(self.generator, question, history)
        s = self.settings
        depth = max(top_k, s.answer_passages, s.llm_passages if self.generator is not None else 0)
        with watch.lap("retrieve"):
            hits = self.knowledge.retrieve(searched, unit, depth, watch)
        return _Retrieved(question, searched, unit, top_k, hits, watch)

    def _rewrite(self, generator: Generator, question: str, history: Sequence[Turn]) -> str:
        try:
            rewritten = normalize(generator.rewrite(question, history))
        except LLMUnavailable as exc:
            log.warning("the follow-up is searched as asked: %s", exc.message)
            return question
        return rewritten or question

    def _extract(self, r: _Retrieved, fallback: str | None = None) -> Answer:
        s = self.settings
        with r.watch.lap("answer"):
            units = [r.unit] if r.unit is not None else self.knowledge.scope(None)
            reading = self.reader.read(
                profile(r.searched), r.hits[: s.answer_passages], self.knowledge.idf(units), self._document_periods
            )
        answer_text: str | None = None
        confidence = 0.0
        order = list(range(len(r.hits)))
        highlight: dict[int, tuple[int, int]] = {}
        if reading is not None:
            # Decided on the confidence as answers show and store it (4 digits), so that a recount
            # from stored answers (`troly eval trade-off`) reproduces every decision.
            confidence = round(reading.confidence, 4)
            # The passage that holds the answer is cited first.
            order.remove(reading.hit)
            order.insert(0, reading.hit)
            highlight[reading.hit] = (reading.start, reading.end)
            if confidence >= self.threshold:
                answer_text = reading.text
        return Answer(
            id=uuid.uuid4().hex,
            question=r.question,
            unit=r.unit,
            answer=answer_text,
            confidence=confidence,
            citations=[cite(r.hits[i], highlight.get(i)) for i in order[: r.top_k]],
            timings_ms=r.watch.laps_ms,
            draft=reading.text if reading is not None else None,
            reader=self.reader.name,
            reader_fallback=fallback,
            rewritten_question=_rewritten(r),
        )

    def _generate(self, generator: Generator, r: _Retrieved) -> Iterator[AnswerDelta | AnswerDone]:
        """The generator's answer as it is written; on its failure, the extractive answer (after
        whatever text had already gone out: a stream cannot take it back, ``AnswerDone`` says)."""
        passages = r.hits[: self.settings.llm_passages]
        sent = False
        try:
            with r.watch.lap("llm"):
                generation = generator.generate(r.searched, passages)
                for piece in generation:
                    sent = True
                    yield AnswerDelta(piece)
                written = generation.result
        except LLMUnavailable as exc:
            log.warning("answering with the %s reader: %s", self.reader.name, exc.message)
            fallback = self._extract(r, fallback=exc.message)
            if not sent and fallback.answer is not None:
                yield AnswerDelta(fallback.answer)  # as an extractive stream sends its answer
            yield AnswerDone(fallback)
            return
        yield AnswerDone(self._written(generator, r, written))

    def _written(self, generator: Generator, r: _Retrieved, written: Generated) -> Answer:
        # The cited passages first, in the order of the answer's markers ([1] is the first of them).
        order = written.cited + [i for i in range(len(r.hits)) if i not in written.cited]
        return Answer(
            id=uuid.uuid4().hex,
            question=r.question,
            unit=r.unit,
            answer=written.text,
            # A generating reader has no calibrated confidence: it answers (1) or refuses (0).
            confidence=1.0 if written.text is not None else 0.0,
            citations=[cite(r.hits[i], None) for i in order[: max(r.top_k, len(written.cited))]],
            timings_ms=r.watch.laps_ms,
            reader=generator.name,
            rewritten_question=_rewritten(r),
        )

    def _check(self, question: str, top_k: int) -> None:
        """The question as sent: its length is what the HTTP API's schema limits (maxLength)."""
        s = self.settings
        if len(question) > s.max_question_chars:
            raise InvalidInput(f"the question is longer than {s.max_question_chars} characters")
        if not 1 <= top_k <= s.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {s.max_top_k}")


def _rewritten(r: _Retrieved) -> str | None:
    return r.searched if r.searched != r.question else None


def _last(events: Iterator[AnswerDelta | AnswerDone]) -> Answer:
    for event in events:
        if isinstance(event, AnswerDone):
            return event.answer
    raise RuntimeError("an answer's events ended without the answer")


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
