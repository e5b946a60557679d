"""Building a fresh assistant over an evaluation corpus: a folder of documents or a JSONL file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from app.assistant import Assistant
from app.domain import DocumentInput
from app.errors import InvalidInput
from app.ingest.loaders import iter_folder, load_file, load_jsonl_corpus

DEFAULT_UNIT = "eval"


def corpus_units(path: Path) -> dict[str, tuple[str, list[DocumentInput]]]:
    """Unit id → (name, documents). A JSONL file or a flat folder is one unit, ``eval``."""
    if path.is_file():
        if path.suffix.lower() != ".jsonl":
            raise InvalidInput(f"{path}: a corpus is a folder or a .jsonl file")
        return {DEFAULT_UNIT: ("Evaluation corpus", list(load_jsonl_corpus(path)))}
    if not path.is_dir():
        raise InvalidInput(f"{path}: no such corpus")
    subfolders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        return {DEFAULT_UNIT: ("Evaluation corpus", [load_file(p) for p in iter_folder(path)])}
    names_file = path / "units.json"
    names: dict[str, str] = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}
    return {f.name: (names.get(f.name, f.name), [load_file(p) for p in iter_folder(f)]) for f in subfolders}


def load_corpus(assistant: Assistant, path: Path, progress: Callable[[int], None] | None = None) -> list[str]:
    """Ingests the corpus; returns the unit ids it filled."""
    units = corpus_units(path)
    for unit_id, (name, documents) in units.items():
        if assistant.store.get_unit(unit_id) is None:
            assistant.create_unit(unit_id, name)
        assistant.add_documents(unit_id, documents, progress=progress)
    return list(units)
