"""Reading documents from disk: single files, folders, and JSONL corpora."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from app.domain import DocumentInput
from app.errors import InvalidInput
from app.ingest.formats import SUPPORTED_SUFFIXES, parse_file


def load_file(path: Path) -> DocumentInput:
    parsed = parse_file(path.name, path.read_bytes())
    return DocumentInput(title=parsed.title or "", text=parsed.text, source=path.name)


def iter_folder(folder: Path) -> Iterator[Path]:
    """Supported files under ``folder``, in a stable order (README files are documentation)."""
    for path in sorted(folder.rglob("*")):
        supported = path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
        if supported and not path.name.startswith(".") and path.stem.lower() != "readme":
            yield path


def load_jsonl_corpus(path: Path) -> Iterator[DocumentInput]:
    """``{"doc_id", "title", "text"}`` per line (the format of the xquad-vi benchmark)."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield DocumentInput(title=row.get("title") or "", text=row["text"], source=str(row.get("doc_id", "")))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidInput(f"{path.name}:{number}: not a corpus line ({exc})") from exc
