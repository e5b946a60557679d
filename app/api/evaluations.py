"""Question sets, evaluations run from the service, and the ministry's overview (docs/evaluation.md).

Reading needs what reading a unit's stats needs; writing (a set uploaded or deleted, an evaluation
started) needs an admin key or a maintainer key for the unit, and is audited as document writes are.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.api.contract import errors
from app.api.evaluation_schemas import (
    EvaluationIn,
    EvaluationOut,
    OverviewOut,
    QuestionIn,
    QuestionSetIn,
    QuestionSetOut,
)
from app.errors import InvalidInput, UnsupportedFormat
from app.evaluation.dataset import Question
from app.evaluation.question_sets import MAX_NAME_CHARS, QuestionSetInfo
from app.service.deps import KeyDep, ReaderDep, ServicesDep, SettingsDep
from app.service.overview import overview
from app.settings import Settings
from app.text.normalize import VISIBLE_PATTERN

router = APIRouter(tags=["evaluations"])

_WRITE = (400, 401, 403, 413, 422, 429)
_WHY = {
    404: "no such unit, question set or evaluation: the message names which",
    409: "the unit has an evaluation queued or running (evaluation_running), the service's queue of "
    "evaluations is full (evaluation_queue_full), or the question set named is not (any more) one of the "
    "unit's (question_set_missing)",
    415: "neither application/json nor multipart/form-data",
    422: "invalid input: the message names the question (or JSONL line) and the rule; nothing was stored",
    503: "the service is stopping",
}
_FORM_FIELDS = ("file", "name")
JSONL_MEDIA_TYPE = "application/jsonl"


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON Schema with its ``$defs`` put in place: inside the OpenAPI document a
    ``#/$defs/…`` reference would point at the document's root, where there are none."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inlined(QuestionSetIn.model_json_schema())},
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
                            "description": "JSON Lines in UTF-8: one question object per line, as in the JSON "
                            "body's questions (blank lines are skipped)",
                        },
                        "name": {
                            "type": "string",
                            "maxLength": MAX_NAME_CHARS,
                            "pattern": f"^$|{VISIBLE_PATTERN}",
                            "description": "the set's name; empty or absent: the file's name without its extension",
                        },
                    },
                },
                # JSON Lines: what the file must hold (the part's own type is not read).
                "encoding": {"file": {"contentType": JSONL_MEDIA_TYPE}},
            },
        },
    }
}


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"] for e in exc.errors())


def _jsonl(data: bytes) -> list[Question]:
    """The questions of a JSONL upload, each line checked as the JSON body's questions are."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text") from exc
    questions = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = QuestionIn.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not JSON ({exc.msg})") from exc
        except ValidationError as exc:
            raise InvalidInput(f"line {number}: {_problems(exc)}") from exc
        questions.append(Question(row.id, row.question, tuple(row.answers)))
    return questions


async def _read_set(request: Request, settings: Settings) -> tuple[str, list[Question]]:
    """The set's name and questions from a JSON body or a multipart JSONL upload; bad input raises."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = QuestionSetIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise InvalidInput(_problems(exc)) from exc
        return body.name, [Question(q.id, q.question, tuple(q.answers)) for q in body.questions]
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10, max_part_size=settings.max_upload_bytes)
        unknown = sorted({name for name in form if name not in _FORM_FIELDS})
        repeated = sorted({name for name in form if len(form.getlist(name)) > 1})
        if unknown or repeated:
            raise InvalidInput(
                f"a multipart upload has the fields {', '.join(_FORM_FIELDS)} once each; "
                f"not {', '.join(unknown + repeated)}"
            )
        upload, name = form.get("file"), form.get("name")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("a multipart upload needs a 'file' field with a file name")
        if not isinstance(name, str | None):
            raise InvalidInput("'name' is a text field, not a file")
        return name or PurePath(upload.filename).stem[:MAX_NAME_CHARS], _jsonl(await upload.read())
    raise UnsupportedFormat(f"send application/json or multipart/form-data, not {kind or 'no content type'}")


def _set_out(info: QuestionSetInfo) -> QuestionSetOut:
    return QuestionSetOut(id=info.id, name=info.name, questions=info.questions, created_at=info.created_at)


@router.post(
    "/v1/units/{unit}/question-sets",
    status_code=status.HTTP_201_CREATED,
    response_model=QuestionSetOut,
    openapi_extra=_BODY,
    summary="Store a question set (JSON, or a JSONL file) to evaluate the unit's assistant with",
    responses=errors(*_WRITE, 404, 415, why=_WHY),
)
async def add_question_set(
    unit: str, request: Request, who: KeyDep, services: ServicesDep, settings: SettingsDep
) -> QuestionSetOut:
    services.assistant.unit(unit)
    who.require_write(unit)
    name, questions = await _read_set(request, settings)
    info = await run_in_threadpool(services.question_sets.add, unit, name, questions)
    services.access.audit(who, "question_set.add", unit, info.id, {"name": info.name, "questions": info.questions})
    return _set_out(info)


@router.get(
    "/v1/units/{unit}/question-sets",
    response_model=list[QuestionSetOut],
    summary="The unit's question sets, newest first",
    responses=errors(401, 404, why=_WHY),
)
def list_question_sets(unit: str, services: ServicesDep, _: ReaderDep) -> list[QuestionSetOut]:
    services.assistant.unit(unit)
    return [_set_out(info) for info in services.question_sets.list(unit)]


@router.delete(
    "/v1/units/{unit}/question-sets/{set_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a question set (its evaluations stay)",
    responses=errors(401, 403, 404, 429, why=_WHY),
)
def delete_question_set(unit: str, set_id: str, who: KeyDep, services: ServicesDep) -> Response:
    services.assistant.unit(unit)
    who.require_write(unit)
    deleted = services.question_sets.delete(unit, set_id)
    services.access.audit(who, "question_set.delete", unit, set_id, {"name": deleted.name})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/units/{unit}/evaluations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EvaluationOut,
    summary="Evaluate the unit's assistant with one of its question sets, in the background",
    responses=errors(*_WRITE, 404, 409, 503, why=_WHY),
)
def start_evaluation(unit: str, body: EvaluationIn, who: KeyDep, services: ServicesDep) -> EvaluationOut:
    services.assistant.unit(unit)
    who.require_write(unit)
    job = services.evaluation_jobs.start(unit, body.question_set)
    services.access.audit(who, "evaluation.start", unit, job.id, {"question_set": job.question_set})
    return EvaluationOut.of(job)


@router.get(
    "/v1/units/{unit}/evaluations",
    response_model=list[EvaluationOut],
    summary="The unit's recent evaluations, newest first",
    responses=errors(401, 404, 422, why=_WHY),
)
def list_evaluations(
    unit: str, services: ServicesDep, _: ReaderDep, limit: int = Query(default=20, ge=1, le=100)
) -> list[EvaluationOut]:
    services.assistant.unit(unit)
    return [EvaluationOut.of(job) for job in services.evaluation_jobs.recent(unit, limit)]


@router.get(
    "/v1/evaluations/{evaluation_id}",
    response_model=EvaluationOut,
    summary="An evaluation: its status and progress, and its result once done",
    responses=errors(401, 404, why=_WHY),
)
def get_evaluation(evaluation_id: str, services: ServicesDep, _: ReaderDep) -> EvaluationOut:
    return EvaluationOut.of(services.evaluation_jobs.get(evaluation_id))


@router.get(
    "/v1/overview",
    response_model=OverviewOut,
    tags=["questions"],
    summary="Every unit's assistant against the answer-rate target: live figures and the last evaluation",
    responses=errors(401, 422),
)
def get_overview(
    services: ServicesDep,
    settings: SettingsDep,
    _: ReaderDep,
    days: int = Query(default=30, ge=1, le=3650, description="the live figures' period"),
) -> OverviewOut:
    found = overview(services.assistant, services.activity, services.evaluations, settings.answer_rate_target, days)
    return OverviewOut.of(found)
