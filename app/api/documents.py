"""Document routes: JSON or multipart upload, read, replace, delete. Every write is audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.api.contract import errors
from app.api.schemas import DocumentCreated, DocumentFull, DocumentIn, DocumentSummary
from app.domain import PARTIAL_DATE_PATTERN, DocumentInput
from app.errors import InvalidInput, UnsupportedFormat
from app.ingest.formats import SUPPORTED_SUFFIXES, parse_file
from app.service.deps import KeyDep, ReaderDep, ServicesDep, SettingsDep
from app.settings import Settings

router = APIRouter(tags=["documents"])

_MAX_TITLE = DocumentIn.model_fields["title"].metadata[0].max_length
_MAX_SOURCE = DocumentIn.model_fields["source"].metadata[0].max_length
_FORM_FIELDS = ("file", "title", "date")
_WRITE = (400, 401, 403, 413, 422, 429)
_WHY = {
    404: "no such unit, or no such document in it",
    409: "another document of this unit already has this content",
    413: "the request body is over TROLY_MAX_UPLOAD_BYTES, or a .docx would unpack past its limit",
}
_FILE_TYPES = ", ".join(sorted(SUPPORTED_SUFFIXES))
_FILE_MEDIA_TYPES = (
    "text/plain",
    "text/markdown",
    "text/html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/pdf",
)

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    # Any other field is refused (422), as is a field sent twice.
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": f"a file whose name ends in {_FILE_TYPES} (else 415) and whose content "
                            f"is such a file with text in it (else 422); the name, at most {_MAX_SOURCE} characters, "
                            "becomes the document's source",
                        },
                        "title": {
                            "type": "string",
                            "maxLength": _MAX_TITLE,
                            "description": "empty: the file's own title, if it has one",
                        },
                        "date": {
                            "type": "string",
                            # Empty, as a form sends a field left blank: no date.
                            "pattern": rf"^(?:{PARTIAL_DATE_PATTERN[1:-1]})?$",
                            "description": "YYYY-MM or a real calendar day YYYY-MM-DD; empty for none",
                        },
                    },
                },
                # What the file may be (its name's extension says which; the part's own type is not read).
                "encoding": {"file": {"contentType": ", ".join(_FILE_MEDIA_TYPES)}},
            },
        },
    }
}


def _validated(fields: dict[str, Any] | bytes) -> DocumentInput:
    """One validation for both kinds of body, so that a multipart upload obeys the JSON limits."""
    try:
        if isinstance(fields, bytes):
            body = DocumentIn.model_validate_json(fields)
        else:
            body = DocumentIn.model_validate(fields)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(details or "invalid document") from exc
    return DocumentInput(title=body.title, text=body.text, date=body.date, source=body.source)


async def _read_document(request: Request, settings: Settings) -> DocumentInput:
    """The document in a JSON body or in a multipart ``file`` field; bad input raises, nothing stored."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        return _validated(await request.body())
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10, max_part_size=settings.max_upload_bytes)
        unknown = sorted({name for name in form if name not in _FORM_FIELDS})
        repeated = sorted({name for name in form if len(form.getlist(name)) > 1})
        if unknown or repeated:
            raise InvalidInput(
                f"a multipart upload has the fields {', '.join(_FORM_FIELDS)} once each; "
                f"not {', '.join(unknown + repeated)}"
            )
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("a multipart upload needs a 'file' field with a file name")
        title, date = form.get("title"), form.get("date")
        if not isinstance(title, str | None) or not isinstance(date, str | None):
            raise InvalidInput("'title' and 'date' are text fields, not files")
        if len(upload.filename) > _MAX_SOURCE:
            raise InvalidInput(f"the file name is longer than {_MAX_SOURCE} characters")
        parsed = parse_file(upload.filename, await upload.read())
        # A title the maintainer typed must obey the limit; one taken from the file's metadata is cut to fit.
        return _validated(
            {
                "title": title if title else (parsed.title or "")[:_MAX_TITLE],
                "text": parsed.text,
                "date": date or None,
                "source": upload.filename,
            }
        )
    raise UnsupportedFormat(f"send application/json or multipart/form-data, not {kind or 'no content type'}")


@router.post(
    "/v1/units/{unit}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentCreated,
    openapi_extra=_BODY,
    summary="Add a document (JSON text, or an uploaded .txt/.md/.html/.docx/.pdf)",
    responses={
        200: {"model": DocumentCreated, "description": "this unit already holds this content: the stored document"},
        **errors(*_WRITE, 404, 415, why=_WHY),
    },
)
async def add_document(
    unit: str, request: Request, who: KeyDep, services: ServicesDep, settings: SettingsDep, response: Response
) -> DocumentCreated:
    services.assistant.unit(unit)
    who.require_write(unit)
    document = await _read_document(request, settings)
    [result] = await _in_thread(services.add_documents, who, unit, [document])
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return DocumentCreated(document_id=result.document.id, passages=result.document.passages, created=result.created)


@router.get("/v1/units/{unit}/documents", response_model=list[DocumentSummary], responses=errors(401, 404, why=_WHY))
def list_documents(unit: str, services: ServicesDep, _: ReaderDep) -> list[DocumentSummary]:
    return [DocumentSummary.of(d) for d in services.assistant.list_documents(unit)]


@router.get(
    "/v1/units/{unit}/documents/{document_id}", response_model=DocumentFull, responses=errors(401, 404, why=_WHY)
)
def get_document(unit: str, document_id: str, services: ServicesDep, _: ReaderDep) -> DocumentFull:
    return DocumentFull.of(services.assistant.get_document(unit, document_id))


@router.put(
    "/v1/units/{unit}/documents/{document_id}",
    response_model=DocumentCreated,
    openapi_extra=_BODY,
    summary="Replace a document's content; its old passages leave the answers at once",
    responses=errors(*_WRITE, 404, 409, 415, why=_WHY),
)
async def replace_document(
    unit: str, document_id: str, request: Request, who: KeyDep, services: ServicesDep, settings: SettingsDep
) -> DocumentCreated:
    services.assistant.get_document(unit, document_id)
    who.require_write(unit)
    document = await _read_document(request, settings)
    replaced = await _in_thread(services.assistant.replace_document, unit, document_id, document)
    services.metrics.observe_ingest(unit, 1, replaced.passages, operation="replace")
    services.access.audit(
        who, "document.replace", unit, document_id, {"title": replaced.title, "passages": replaced.passages}
    )
    return DocumentCreated(document_id=replaced.id, passages=replaced.passages, created=False)


@router.delete(
    "/v1/units/{unit}/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429, why=_WHY),
)
def delete_document(unit: str, document_id: str, who: KeyDep, services: ServicesDep) -> Response:
    services.assistant.get_document(unit, document_id)
    who.require_write(unit)
    deleted = services.assistant.delete_document(unit, document_id)
    services.metrics.observe_delete(unit)
    services.access.audit(who, "document.delete", unit, document_id, {"title": deleted.title})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _in_thread(function: Any, *args: Any) -> Any:
    """Embedding is CPU work: keep it off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)
