"""Bodies of the question-set, evaluation and overview routes (``app.api.evaluations``): a public
contract, as ``app.api.schemas``. Limits are the core's own (``app.evaluation.question_sets``);
the core checks them again, for the JSONL uploads and for what JSON Schema cannot say (unique ids)."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import NOT_BLANK, RequestBody, from_setting
from app.evaluation.outcomes import Outcome
from app.evaluation.question_sets import MAX_ANSWER_CHARS, MAX_ANSWERS, MAX_ID_CHARS, MAX_NAME_CHARS, MAX_QUESTIONS
from app.evaluation.results import LastEvaluation
from app.evaluation.scorecard import MAX_MISSES, Miss, Scorecard
from app.service.evaluation_records import EvaluationJob
from app.service.overview import Overview, UnitOverview
from app.text.normalize import VISIBLE_PATTERN

Answer = Annotated[str, Field(min_length=1, max_length=MAX_ANSWER_CHARS, pattern=VISIBLE_PATTERN)]
# The outcomes a miss can have (app.evaluation.outcomes.MISSED), in Outcome's order.
MissOutcome = Literal["wrong answer", "false abstention", "false answer"]


class QuestionIn(RequestBody):
    """One question in ``troly eval``'s format; other keys (``unit``, ``kind``, ``source``) are
    ignored: the set's questions are asked of the unit it belongs to."""

    model_config = ConfigDict(strict=True, extra="ignore")
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, pattern=VISIBLE_PATTERN, description="unique in the set")
    question: str = Field(
        json_schema_extra={**NOT_BLANK, **from_setting("maxLength", "max_question_chars")},
        description="not blank; at most TROLY_MAX_QUESTION_CHARS characters",
    )
    answers: list[Answer] = Field(
        max_length=MAX_ANSWERS,
        description="texts that count as a correct answer when the answer contains one (compared after "
        "normalisation, ignoring case); [] when the documents cannot answer it: the assistant must abstain",
    )


class QuestionSetIn(RequestBody):
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=VISIBLE_PATTERN, examples=["Quý I/2025"])
    questions: list[QuestionIn] = Field(
        min_length=1, max_length=MAX_QUESTIONS, description="ids unique in the set (else 422)"
    )


class QuestionSetOut(BaseModel):
    id: str
    name: str
    questions: int = Field(description="how many questions the set has")
    created_at: str


class EvaluationIn(RequestBody):
    question_set: str = Field(min_length=1, max_length=64, description="the id of one of the unit's question sets")


class CitationBrief(BaseModel):
    title: str
    text: str
    highlight: tuple[int, int] | None = Field(description="offsets of the answering sentence inside text")


class MissOut(BaseModel):
    id: str
    question: str
    expected: list[str] = Field(description="the answers that would have counted; [] when it should have abstained")
    answer: str | None = Field(description="what the assistant answered; null: it abstained")
    outcome: MissOutcome
    citation: CitationBrief | None = Field(description="the first passage the assistant cited")

    @classmethod
    def of(cls, m: Miss) -> MissOut:
        cited = m.citation
        return cls(
            id=m.id,
            question=m.question,
            expected=m.expected,
            answer=m.answer,
            outcome=cast(MissOutcome, m.outcome),  # pydantic checks it is one of them
            citation=None
            if cited is None
            else CitationBrief(title=cited.title, text=cited.text, highlight=cited.highlight),
        )


class EvaluationResultOut(BaseModel):
    answer_rate: float = Field(ge=0, le=1, description="correct answers / answerable questions")
    false_answer_rate: float = Field(ge=0, le=1, description="answers given / questions it should have abstained on")
    recall_at_1: float = Field(ge=0, le=1, description="answerable questions whose first citation holds an answer")
    recall_at_5: float = Field(ge=0, le=1, description="... whose first five citations hold one")
    outcomes: dict[str, int] = Field(
        description="SQuAD 2.0 outcomes: " + ", ".join(o.value for o in Outcome) + ": how many questions had each",
        examples=[{o.value: 0 for o in Outcome}],
    )
    misses: list[MissOut] = Field(
        max_length=MAX_MISSES,
        description=f"wrong answers, false abstentions and false answers, in the set's order, the first {MAX_MISSES}",
    )

    @classmethod
    def of(cls, s: Scorecard) -> EvaluationResultOut:
        return cls(
            answer_rate=s.answer_rate,
            false_answer_rate=s.false_answer_rate,
            recall_at_1=s.recall_at_1,
            recall_at_5=s.recall_at_5,
            outcomes=s.outcomes,
            misses=[MissOut.of(m) for m in s.misses],
        )


class EvaluationOut(BaseModel):
    id: str
    unit: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(ge=0, le=1, description="questions asked / questions")
    result: EvaluationResultOut | None = Field(description="once done")
    question_set: str = Field(description="the question set's id")
    question_set_name: str
    created_at: str
    finished_at: str | None = Field(description="when it was done or failed")
    error: str | None = Field(description="why it failed")

    @classmethod
    def of(cls, j: EvaluationJob) -> EvaluationOut:
        return cls(
            id=j.id,
            unit=j.unit,
            status=j.status,
            progress=j.progress,
            result=None if j.result is None else EvaluationResultOut.of(j.result),
            question_set=j.question_set,
            question_set_name=j.question_set_name,
            created_at=j.created_at,
            finished_at=j.finished_at,
            error=j.error,
        )


class LastEvalOut(BaseModel):
    answer_rate: float
    false_answer_rate: float
    at: str
    question_set: str = Field(description="the question set's name, or the file `troly eval` read")

    @classmethod
    def of(cls, e: LastEvaluation) -> LastEvalOut:
        return cls(answer_rate=e.answer_rate, false_answer_rate=e.false_answer_rate, at=e.at, question_set=e.questions)


class UnitOverviewOut(BaseModel):
    id: str
    name: str
    documents: int
    questions_asked: int = Field(description="live questions over the last `days` days")
    live_answer_rate: float | None = Field(description="answered / asked live; null before the first question")
    helpful_rate: float | None = Field(description="helpful / feedback given; null before the first feedback")
    last_eval: LastEvalOut | None = Field(description="the unit's newest evaluation, from the service or `troly eval`")
    meets_target: bool | None = Field(description="the last evaluation's answer rate >= target; null without one")

    @classmethod
    def of(cls, u: UnitOverview) -> UnitOverviewOut:
        return cls(
            id=u.id,
            name=u.name,
            documents=u.documents,
            questions_asked=u.questions_asked,
            live_answer_rate=u.live_answer_rate,
            helpful_rate=u.helpful_rate,
            last_eval=None if u.last_eval is None else LastEvalOut.of(u.last_eval),
            meets_target=u.meets_target,
        )


class OverviewOut(BaseModel):
    target: float = Field(description="the answer rate every unit's assistant must reach (TROLY_ANSWER_RATE_TARGET)")
    units: list[UnitOverviewOut]

    @classmethod
    def of(cls, o: Overview) -> OverviewOut:
        return cls(target=o.target, units=[UnitOverviewOut.of(u) for u in o.units])
