"""HTTP routes: parse, call the core, translate the result. No logic of their own."""

from __future__ import annotations

import time
from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Response, status

from app import __version__
from app.api.deps import AssistantDep, ServicesDep, SettingsDep, require_admin
from app.api.schemas import (
    AskIn,
    AskOut,
    CitationOut,
    DayStatsOut,
    DocumentCreated,
    DocumentIn,
    DocumentSummary,
    ErrorBody,
    FeedbackIn,
    FeedbackOut,
    Health,
    StatsOut,
    UnitIn,
    UnitOut,
)
from app.domain import DocumentInput

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 415, 422)
}

router = APIRouter(responses=_ERRORS)


@router.get("/healthz", response_model=Health, tags=["service"])
def healthz(assistant: AssistantDep) -> Health:
    return Health(
        version=__version__,
        embedder=assistant.embedder.name,
        units=len(assistant.list_units()),
        passages=assistant.passage_count(),
    )


@router.post(
    "/v1/units",
    status_code=status.HTTP_201_CREATED,
    response_model=UnitOut,
    dependencies=[Depends(require_admin)],
    tags=["units"],
)
def create_unit(body: UnitIn, assistant: AssistantDep) -> UnitOut:
    unit = assistant.create_unit(body.id, body.name)
    return UnitOut(id=unit.id, name=unit.name)


@router.get("/v1/units", response_model=list[UnitOut], tags=["units"])
def list_units(assistant: AssistantDep) -> list[UnitOut]:
    return [UnitOut(id=u.id, name=u.name) for u in assistant.list_units()]


@router.post(
    "/v1/units/{unit}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentCreated,
    dependencies=[Depends(require_admin)],
    tags=["documents"],
)
def add_document(unit: str, body: DocumentIn, assistant: AssistantDep, response: Response) -> DocumentCreated:
    result = assistant.add_document(
        unit, DocumentInput(title=body.title, text=body.text, date=body.date, source=body.source)
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return DocumentCreated(document_id=result.document.id, passages=result.document.passages, created=result.created)


@router.get("/v1/units/{unit}/documents", response_model=list[DocumentSummary], tags=["documents"])
def list_documents(unit: str, assistant: AssistantDep) -> list[DocumentSummary]:
    return [DocumentSummary.of(d) for d in assistant.list_documents(unit)]


@router.post("/v1/ask", response_model=AskOut, tags=["questions"])
def ask(body: AskIn, services: ServicesDep) -> AskOut:
    started = time.perf_counter()
    answer = services.assistant.ask(body.question, unit=body.unit, top_k=body.top_k)
    services.activity.record(answer, (time.perf_counter() - started) * 1000)
    return AskOut(
        id=answer.id,
        answer=answer.answer,
        abstained=answer.abstained,
        confidence=answer.confidence,
        citations=[CitationOut.of(c) for c in answer.citations],
    )


@router.post(
    "/v1/answers/{answer_id}/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    tags=["questions"],
)
def feedback(answer_id: str, body: FeedbackIn, services: ServicesDep) -> FeedbackOut:
    services.activity.feedback(answer_id, body.helpful, body.comment)
    return FeedbackOut(answer_id=answer_id, helpful=body.helpful)


@router.get("/v1/stats", response_model=StatsOut, tags=["questions"])
def stats(
    services: ServicesDep,
    settings: SettingsDep,
    unit: str | None = None,
    days: int = Query(default=30, ge=1, le=3650),
) -> StatsOut:
    if unit is not None:
        services.assistant.unit(unit)
    live = services.activity.stats(unit, days)
    last = services.history.latest(unit)
    last_eval: dict[str, object] | None = None
    if last is not None:
        last_eval = {
            "run": last.id,
            "at": last.created_at,
            "questions": last.questions,
            "embedder": last.target.get("embedder"),
            **{k: last.summary[k] for k in ("answer_rate", "false_answer_rate", "recall_at_1", "recall_at_5", "mrr")},
        }
    return StatsOut(
        unit=unit,
        days=days,
        questions=live.questions,
        answered=live.answered,
        abstained=live.abstained,
        answer_rate=live.answer_rate,
        helpful_rate=live.helpful_rate,
        feedback=live.feedback,
        target=settings.answer_rate_target,
        last_eval=last_eval,
        daily=[DayStatsOut(**asdict(d)) for d in live.daily],
    )
