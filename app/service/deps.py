"""FastAPI dependencies: the services loaded at start, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.access import Principal
from app.assistant import Assistant
from app.errors import Unauthorized
from app.service.services import Services
from app.settings import Settings


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_assistant(request: Request) -> Assistant:
    return get_services(request).assistant


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    return token.strip()


def caller(request: Request) -> Principal | None:
    """The authenticated caller, or None when no key was sent. A bad key is a 401 at once."""
    return get_services(request).access.authenticate(_bearer(request))


def require_key(who: Annotated[Principal | None, Depends(caller)]) -> Principal:
    if who is None:
        raise Unauthorized("this request needs an 'Authorization: Bearer <key>' header")
    return who


def require_admin(who: Annotated[Principal, Depends(require_key)]) -> Principal:
    who.require_admin()
    return who


def reader(
    who: Annotated[Principal | None, Depends(caller)], settings: Annotated[Settings, Depends(get_settings)]
) -> Principal | None:
    """Reading is open unless TROLY_REQUIRE_READ_KEY is set; then any valid key may read."""
    if who is None and settings.require_read_key:
        raise Unauthorized("this service requires a key to ask: 'Authorization: Bearer <key>'")
    return who


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyDep = Annotated[Principal, Depends(require_key)]
AdminDep = Annotated[Principal, Depends(require_admin)]
ReaderDep = Annotated[Principal | None, Depends(reader)]
