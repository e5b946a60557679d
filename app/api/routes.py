"""HTTP routes: parse, call the core, translate the result. No logic of their own."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from app import __version__
from app.api.deps import AssistantDep, require_admin
from app.api.schemas import (
    AskIn,
    AskOut,
    CitationOut,
    DocumentCreated,
    DocumentIn,
    DocumentSummary,
    ErrorBody,
    Health,
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
def ask(body: AskIn, assistant: AssistantDep) -> AskOut:
    answer = assistant.ask(body.question, unit=body.unit, top_k=body.top_k)
    return AskOut(
        id=answer.id,
        answer=answer.answer,
        abstained=answer.abstained,
        confidence=answer.confidence,
        citations=[CitationOut.of(c) for c in answer.citations],
    )
