"""Reading documents from disk: single files, folders, JSONL corpora, and corpora of unit folders."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from app.domain import DocumentInput
from app.errors import InvalidInput
from app.ingest.formats import SUPPORTED_SUFFIXES, parse_file

T = TypeVar("T")

UNIT_NAMES_FILE = "units.json"


def read_jsonl(path: Path, parse: Callable[[Any], T], what: str) -> Iterator[tuple[int, T]]:
    """Each non-blank line of ``path`` parsed by ``parse``, with its line number. A line that is
    not JSON, or that ``parse`` rejects (KeyError, TypeError), raises InvalidInput naming it."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = parse(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidInput(f"{path.name}:{number}: not a {what} line ({exc})") from exc
            yield number, item


def load_file(path: Path) -> DocumentInput:
    parsed = parse_file(path.name, path.read_bytes())
    return DocumentInput(title=parsed.title or "", text=parsed.text, source=path.name)


def iter_folder(folder: Path) -> Iterator[Path]:
    """Supported files under ``folder``, in a stable order (README files are documentation)."""
    for path in sorted(folder.rglob("*")):
        supported = path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
        if supported and not path.name.startswith(".") and path.stem.lower() != "readme":
            yield path


def _corpus_row(row: Any) -> DocumentInput:
    return DocumentInput(title=row.get("title") or "", text=row["text"], source=str(row.get("doc_id", "")))


def load_jsonl_corpus(path: Path) -> Iterator[DocumentInput]:
    """``{"doc_id", "title", "text"}`` per line (the format of the xquad-vi benchmark)."""
    for _, document in read_jsonl(path, _corpus_row, "corpus"):
        yield document


def load_documents(path: Path) -> list[DocumentInput]:
    """The documents of a JSONL corpus, of one file, or of every supported file under a folder."""
    if path.is_file() and path.suffix.lower() == ".jsonl":
        return list(load_jsonl_corpus(path))
    if path.is_file():
        return [load_file(path)]
    return [load_file(p) for p in iter_folder(path)]


def unit_folders(corpus: Path) -> list[tuple[str, str | None, Path]]:
    """A corpus of one folder per unit: (unit id, its name in ``units.json`` if named there, folder),
    sorted by id; hidden folders are skipped. Empty when ``corpus`` has no sub-folders."""
    folders = sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        return []
    names_file = corpus / UNIT_NAMES_FILE
    names: dict[str, str] = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}
    return [(f.name, names.get(f.name), f) for f in folders]
