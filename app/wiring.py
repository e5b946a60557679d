"""Assembling an Assistant from settings: the one place entry points call."""

from __future__ import annotations

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.embedding import create_embedder
from app.settings import Settings
from app.store import SqliteStore


def open_assistant(settings: Settings) -> Assistant:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(settings.db_path)
    return Assistant(store, create_embedder(settings), AnswerModel.load(), settings)
