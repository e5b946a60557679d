"""Building a fresh assistant over an evaluation corpus: a folder of documents or a JSONL file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.assistant import Assistant
from app.domain import DocumentInput
from app.errors import InvalidInput
from app.ingest.loaders import load_documents, unit_folders

DEFAULT_UNIT = "eval"


def corpus_units(path: Path) -> dict[str, tuple[str, list[DocumentInput]]]:
    """Unit id → (name, documents). A JSONL file or a flat folder is one unit, ``eval``."""
    if path.is_file():
        if path.suffix.lower() != ".jsonl":
            raise InvalidInput(f"{path}: a corpus is a folder or a .jsonl file")
        return {DEFAULT_UNIT: ("Evaluation corpus", load_documents(path))}
    if not path.is_dir():
        raise InvalidInput(f"{path}: no such corpus")
    folders = unit_folders(path)
    if not folders:
        return {DEFAULT_UNIT: ("Evaluation corpus", load_documents(path))}
    return {unit: (unit if name is None else name, load_documents(folder)) for unit, name, folder in folders}


def load_corpus(assistant: Assistant, path: Path, progress: Callable[[int], None] | None = None) -> list[str]:
    """Ingests the corpus; returns the unit ids it filled."""
    units = corpus_units(path)
    for unit_id, (name, documents) in units.items():
        if assistant.store.get_unit(unit_id) is None:
            assistant.create_unit(unit_id, name)
        assistant.add_documents(unit_id, documents, progress=progress)
    return list(units)
