"""FastAPI dependencies: the assistant loaded at start, and the caller's credentials."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from app.assistant import Assistant
from app.errors import Forbidden, Unauthorized
from app.settings import Settings
from app.wiring import Services


def get_assistant(request: Request) -> Assistant:
    assistant: Assistant = request.app.state.assistant
    return assistant


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_admin(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    token = _bearer(request)
    if token is None:
        raise Unauthorized("this request needs an 'Authorization: Bearer <key>' header")
    if not settings.admin_key or not secrets.compare_digest(token.encode(), settings.admin_key.encode()):
        raise Forbidden("this key may not make this request")


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
