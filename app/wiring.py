"""Assembling the core from settings: the one place entry points call."""

from __future__ import annotations

from dataclasses import dataclass

from app.access import AccessControl
from app.activity import ActivityLog
from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.embedding import create_embedder
from app.evaluation.history import EvalHistory
from app.settings import Settings
from app.store import SqliteStore


def open_assistant(settings: Settings, model: AnswerModel | None = None) -> Assistant:
    """``model``: the shipped answer model unless given (tuning passes an untrained one)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(settings.db_path)
    return Assistant(store, create_embedder(settings), model or AnswerModel.load(), settings)


@dataclass(frozen=True)
class Services:
    """Everything the HTTP service needs, opened once at start."""

    assistant: Assistant
    activity: ActivityLog
    history: EvalHistory
    access: AccessControl


def open_services(settings: Settings, assistant: Assistant | None = None) -> Services:
    assistant = assistant or open_assistant(settings)
    return Services(
        assistant=assistant,
        activity=ActivityLog(settings.data_dir / "activity.sqlite3"),
        history=EvalHistory(settings.eval_history_path),
        access=open_access(settings),
    )


def open_access(settings: Settings) -> AccessControl:
    return AccessControl(settings.data_dir / "access.sqlite3", admin_key=settings.admin_key)
