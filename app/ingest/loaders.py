"""Reading documents from files: plain text and Markdown, and JSONL corpora."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from app.domain import DocumentInput
from app.errors import InvalidInput, UnsupportedFormat

TEXT_SUFFIXES = frozenset({".txt", ".md"})


def decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise InvalidInput(f"{name}: binary content is not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def load_file(path: Path) -> DocumentInput:
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise UnsupportedFormat(f"{path.name}: unsupported file type {suffix or '(none)'}")
    return DocumentInput(title="", text=decode_text(path.read_bytes(), path.name), source=path.name)


def iter_folder(folder: Path) -> Iterator[Path]:
    """Supported files under ``folder``, in a stable order."""
    for path in sorted(folder.rglob("*")):
        supported = path.is_file() and path.suffix.lower() in TEXT_SUFFIXES
        if supported and not path.name.startswith(".") and path.name.lower() != "readme.md":
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
