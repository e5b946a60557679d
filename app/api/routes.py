"""HTTP routes: parse, call the core, translate the result. No logic of their own."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Response, status

from app import __version__
from app.api.schemas import (
    AskIn,
    AskOut,
    AuditOut,
    DayStatsOut,
    ErrorBody,
    FeedbackIn,
    FeedbackOut,
    Health,
    KeyCreated,
    KeyIn,
    KeyOut,
    StatsOut,
    UnitIn,
    UnitOut,
)
from app.api.streaming import ask_events, event_stream
from app.domain import Turn
from app.service.deps import AdminDep, AssistantDep, ReaderDep, ServicesDep, SettingsDep

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 415, 422)
}

router = APIRouter(responses=ERROR_RESPONSES)


@router.get("/healthz", response_model=Health, tags=["service"])
def healthz(assistant: AssistantDep) -> Health:
    return Health(
        version=__version__,
        embedder=assistant.embedder.name,
        units=len(assistant.list_units()),
        passages=assistant.passage_count(),
    )


@router.post("/v1/units", status_code=status.HTTP_201_CREATED, response_model=UnitOut, tags=["units"])
def create_unit(body: UnitIn, who: AdminDep, services: ServicesDep) -> UnitOut:
    unit = services.assistant.create_unit(body.id, body.name)
    services.access.audit(who, "unit.create", unit.id, unit.id, {"name": unit.name})
    return UnitOut(id=unit.id, name=unit.name)


@router.get("/v1/units", response_model=list[UnitOut], tags=["units"])
def list_units(assistant: AssistantDep, _: ReaderDep) -> list[UnitOut]:
    return [UnitOut(id=u.id, name=u.name) for u in assistant.list_units()]


_ASK_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the answer; with stream=true, text/event-stream: event citations (the citations), event "
        "delta ({text}) pieces, then event done (this same object) or event error (an error body)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.post("/v1/ask", response_model=AskOut, tags=["questions"], responses=_ASK_STREAM)
def ask(body: AskIn, services: ServicesDep, _: ReaderDep) -> Any:
    started = time.perf_counter()
    history = tuple(Turn(role=t.role, content=t.content) for t in body.history)
    if body.stream:
        # ask_stream checks the question and the unit before it returns: those stay 4xx statuses.
        events = services.assistant.ask_stream(body.question, body.unit, body.top_k, history)
        return event_stream(ask_events(events, services.activity.record, started))
    answer = services.assistant.ask(body.question, body.unit, body.top_k, history)
    services.activity.record(answer, (time.perf_counter() - started) * 1000)
    return AskOut.of(answer)


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
    _: ReaderDep,
    unit: str | None = None,
    days: int = Query(default=30, ge=1, le=3650),
) -> StatsOut:
    if unit is not None:
        services.assistant.unit(unit)
    live = services.activity.stats(unit, days)
    last = services.evaluations.latest(unit)
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
        last_eval=asdict(last) if last is not None else None,
        daily=[DayStatsOut(**asdict(d)) for d in live.daily],
    )


@router.post("/v1/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated, tags=["keys"])
def create_key(body: KeyIn, who: AdminDep, services: ServicesDep) -> KeyCreated:
    for unit in body.units:
        services.assistant.unit(unit)
    info, key = services.access.create_key(body.role, body.units)
    services.access.audit(who, "key.create", None, info.id, {"role": info.role, "units": list(info.units)})
    return KeyCreated(id=info.id, key=key, role=info.role, units=list(info.units))


@router.get("/v1/keys", response_model=list[KeyOut], tags=["keys"])
def list_keys(_: AdminDep, services: ServicesDep) -> list[KeyOut]:
    return [
        KeyOut(id=k.id, role=k.role, units=list(k.units), created_at=k.created_at, revoked_at=k.revoked_at)
        for k in services.access.list_keys()
    ]


@router.delete("/v1/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["keys"])
def revoke_key(key_id: str, who: AdminDep, services: ServicesDep) -> Response:
    services.access.revoke(key_id)
    services.access.audit(who, "key.revoke", None, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/audit", response_model=list[AuditOut], tags=["keys"])
def audit(
    _: AdminDep, services: ServicesDep, unit: str | None = None, limit: int = Query(default=100, ge=1, le=10000)
) -> list[AuditOut]:
    return [AuditOut(**asdict(e)) for e in services.access.audit_log(limit, unit)]
