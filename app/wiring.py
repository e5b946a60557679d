"""Assembling the core from settings: the one place entry points call."""

from __future__ import annotations

from pathlib import Path

from app.access import AccessControl
from app.activity import ActivityLog
from app.answer.extract import LexicalReader
from app.answer.model import DEFAULT_MODEL_PATH, AnswerModel
from app.answer.reader import Reader
from app.assistant import Assistant
from app.embedding import Embedder, create_embedder
from app.errors import InvalidInput
from app.evaluation.history import EvalHistory
from app.evaluation.results import EvaluationResults
from app.service.services import Services
from app.settings import Settings
from app.store import SqliteStore


def answer_model_path(settings: Settings) -> Path:
    """The answer model the settings name, else the one tuned into the data directory, else the shipped one."""
    if settings.answer_model is not None:
        return settings.answer_model
    tuned = settings.tuned_model_path
    return tuned if tuned.is_file() else DEFAULT_MODEL_PATH


def open_assistant(settings: Settings, model: AnswerModel | None = None, embedder: Embedder | None = None) -> Assistant:
    """``model``: the settings' answer model unless given (tuning passes an untrained one);
    ``embedder``: one already loaded (the command line's tests share one), else the settings' own."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(settings.db_path)
    model = model or AnswerModel.load(answer_model_path(settings))
    return Assistant(store, embedder or create_embedder(settings), model, settings, open_reader(settings, model))


def open_reader(settings: Settings, model: AnswerModel) -> Reader:
    """The reader the settings name. A new reader (neural, LLM) is built here, behind ``Reader``."""
    if settings.reader == "lexical":
        return LexicalReader(model, max_chars=settings.answer_max_chars)
    raise InvalidInput(f"unknown reader {settings.reader!r}")


def open_services(settings: Settings, assistant: Assistant | None = None) -> Services:
    assistant = assistant or open_assistant(settings)
    return Services(
        assistant=assistant,
        activity=ActivityLog(settings.data_dir / "activity.sqlite3"),
        evaluations=EvaluationResults(EvalHistory(settings.eval_history_path)),
        access=open_access(settings),
    )


def open_access(settings: Settings) -> AccessControl:
    return AccessControl(settings.data_dir / "access.sqlite3", admin_key=settings.admin_key)
