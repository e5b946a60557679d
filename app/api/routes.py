"""HTTP routes: parse, call the core, translate the result. No logic of their own."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Response, status

from app import __version__
from app.api.contract import ASK_EVENT, errors
from app.api.schemas import (
    AskIn,
    AskOut,
    AuditOut,
    DayStatsOut,
    FeedbackIn,
    FeedbackOut,
    Health,
    KeyCreated,
    KeyIn,
    KeyOut,
    Ready,
    StatsOut,
    UnitIn,
    UnitOut,
)
from app.api.streaming import ask_events, event_stream
from app.domain import Turn
from app.errors import DatabaseUnavailable, NotReady, SearchUnavailable
from app.service.deps import AdminDep, AssistantDep, ReaderDep, ServicesDep, SettingsDep
from app.service.readiness import readiness

router = APIRouter()

# Every route lists the error statuses it can answer (app.api.contract): 400 and 413 where there
# is a body to read, 401 where a key is read, 429 on the rate-limited routes (asking, writing).
_WRITE = (400, 401, 403, 413, 422, 429)


@router.get("/healthz", response_model=Health, tags=["service"])
def healthz(assistant: AssistantDep) -> Health:
    """Liveness. A database or Milvus that does not answer leaves its counts null, and the answer 200: a
    liveness probe that failed with them would restart every replica while they are down, and replicas
    cannot start until they are back."""
    return Health(
        version=__version__,
        embedder=assistant.embedder.name,
        units=_or_none(lambda: len(assistant.list_units())),
        passages=_or_none(assistant.passage_count),
    )


def _or_none(count: Callable[[], int]) -> int | None:
    try:
        return count()
    except (DatabaseUnavailable, SearchUnavailable):
        return None


@router.get(
    "/readyz",
    response_model=Ready,
    tags=["service"],
    responses=errors(422, 503),
)
def readyz(
    services: ServicesDep, llm: bool = Query(default=True, description="check the LLM reader's server")
) -> Ready:
    """Readiness (``/healthz`` is liveness): the store answers, every index is in step with it,
    and the LLM's server answers when one is configured (``llm=false`` leaves it out)."""
    checks = readiness(services, llm=llm)
    problems = [f"{name}: {result}" for name, result in checks.items() if result != "ok"]
    if problems:
        raise NotReady("not ready: " + "; ".join(problems))
    return Ready(checks=checks)


@router.post(
    "/v1/units",
    status_code=status.HTTP_201_CREATED,
    response_model=UnitOut,
    tags=["units"],
    responses=errors(*_WRITE, 409, why={409: "a unit with this id exists"}),
)
def create_unit(body: UnitIn, who: AdminDep, services: ServicesDep) -> UnitOut:
    unit = services.assistant.create_unit(body.id, body.name)
    services.access.audit(who, "unit.create", unit.id, unit.id, {"name": unit.name})
    return UnitOut(id=unit.id, name=unit.name)


@router.get("/v1/units", response_model=list[UnitOut], tags=["units"], responses=errors(401))
def list_units(assistant: AssistantDep, _: ReaderDep) -> list[UnitOut]:
    return [UnitOut(id=u.id, name=u.name) for u in assistant.list_units()]


_ASK_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the answer; with stream=true, text/event-stream: event citations (the citations), event "
        "delta ({text}) pieces, then event done (this same object) or event error (an error body)",
        "content": {"text/event-stream": {"schema": ASK_EVENT}},
    },
    **errors(400, 401, 404, 413, 422, 429, why={404: "no unit with this id"}),
}


@router.post("/v1/ask", response_model=AskOut, tags=["questions"], responses=_ASK_STREAM)
def ask(body: AskIn, services: ServicesDep, _: ReaderDep) -> Any:
    started = time.perf_counter()
    history = tuple(Turn(role=t.role, content=t.content) for t in body.history)
    if body.stream:
        # ask_stream checks the question and the unit before it returns: those stay 4xx statuses.
        events = services.assistant.ask_stream(body.question, body.unit, body.top_k, history)
        return event_stream(ask_events(events, services.record_answer, started))
    answer = services.assistant.ask(body.question, body.unit, body.top_k, history)
    services.record_answer(answer, (time.perf_counter() - started) * 1000)
    return AskOut.of(answer)


@router.post(
    "/v1/answers/{answer_id}/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    tags=["questions"],
    responses=errors(400, 404, 413, 422, 429, why={404: "no answer with this id"}),
)
def feedback(answer_id: str, body: FeedbackIn, services: ServicesDep) -> FeedbackOut:
    services.activity.feedback(answer_id, body.helpful, body.comment)
    return FeedbackOut(answer_id=answer_id, helpful=body.helpful)


@router.get(
    "/v1/stats", response_model=StatsOut, tags=["questions"], responses=errors(401, 404, 422, why={404: "no such unit"})
)
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


@router.post(
    "/v1/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    tags=["keys"],
    responses=errors(*_WRITE, 404, why={404: "a unit named in units does not exist"}),
)
def create_key(body: KeyIn, who: AdminDep, services: ServicesDep) -> KeyCreated:
    for unit in body.units:
        services.assistant.unit(unit)
    info, key = services.access.create_key(body.role, body.units)
    services.access.audit(who, "key.create", None, info.id, {"role": info.role, "units": list(info.units)})
    return KeyCreated(id=info.id, key=key, role=info.role, units=list(info.units))


@router.get("/v1/keys", response_model=list[KeyOut], tags=["keys"], responses=errors(401, 403))
def list_keys(_: AdminDep, services: ServicesDep) -> list[KeyOut]:
    return [
        KeyOut(id=k.id, role=k.role, units=list(k.units), created_at=k.created_at, revoked_at=k.revoked_at)
        for k in services.access.list_keys()
    ]


@router.delete(
    "/v1/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["keys"],
    responses=errors(401, 403, 404, 429, why={404: "no key with this id"}),
)
def revoke_key(key_id: str, who: AdminDep, services: ServicesDep) -> Response:
    services.access.revoke(key_id)
    services.access.audit(who, "key.revoke", None, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/audit", response_model=list[AuditOut], tags=["keys"], responses=errors(401, 403, 422))
def audit(
    _: AdminDep, services: ServicesDep, unit: str | None = None, limit: int = Query(default=100, ge=1, le=10000)
) -> list[AuditOut]:
    return [AuditOut(**asdict(e)) for e in services.access.audit_log(limit, unit)]
