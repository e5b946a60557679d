"""SQLite document store in WAL mode: one file, safe for concurrent readers and one writer."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.domain import Document, Passage, Unit, keys_fingerprint
from app.errors import UnitExists
from app.store.base import IndexRows, StoredPassage
from app.store.sqlite_connect import ThreadConnections

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL REFERENCES units(id),
    title TEXT NOT NULL,
    date TEXT,
    source TEXT,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    passages INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (unit, content_hash)
);
CREATE TABLE IF NOT EXISTS passages (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    unit TEXT NOT NULL,
    seq INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    tokens TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_unit ON passages (unit);
CREATE INDEX IF NOT EXISTS passages_document ON passages (document_id);
"""

# In the order of the Document dataclass's fields: rows are unpacked into it.
_DOC_COLUMNS = "id, unit, title, text, date, source, content_hash, passages, created_at"


def _doc_row(d: Document) -> tuple[object, ...]:
    return (d.id, d.unit, d.title, d.text, d.date, d.source, d.content_hash, d.passages, d.created_at)


def _insert_passages(
    db: sqlite3.Connection,
    passages: Sequence[Passage],
    tokens: Sequence[Sequence[str]],
    vectors: npt.NDArray[np.float32],
) -> list[int]:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    keys = []
    for passage, toks, vector in zip(passages, tokens, vectors, strict=True):
        cursor = db.execute(
            'INSERT INTO passages (id, document_id, unit, seq, start, "end", text, tokens, vector)'
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                passage.id,
                passage.document_id,
                passage.unit,
                passage.seq,
                passage.start,
                passage.end,
                passage.text,
                " ".join(toks),
                vector.tobytes(),
            ),
        )
        keys.append(int(cursor.lastrowid or 0))
    return keys


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._write_lock = threading.Lock()
        with self._write_lock:
            self._db = ThreadConnections(path, _SCHEMA)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time, each write one transaction (all or nothing)."""
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    # -- meta and units ----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def add_unit(self, unit: Unit) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM units WHERE id = ?", (unit.id,)).fetchone():
                raise UnitExists(f"unit {unit.id!r} already exists")
            db.execute("INSERT INTO units (id, name, created_at) VALUES (?, ?, ?)", (unit.id, unit.name, _now()))

    def get_unit(self, unit_id: str) -> Unit | None:
        row = self._db().execute("SELECT id, name FROM units WHERE id = ?", (unit_id,)).fetchone()
        return None if row is None else Unit(id=row[0], name=row[1])

    def list_units(self) -> list[Unit]:
        rows = self._db().execute("SELECT id, name FROM units ORDER BY id").fetchall()
        return [Unit(id=r[0], name=r[1]) for r in rows]

    # -- documents ---------------------------------------------------------------------
    def find_document(self, unit: str, content_hash: str) -> Document | None:
        row = (
            self._db()
            .execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE unit = ? AND content_hash = ?", (unit, content_hash))
            .fetchone()
        )
        return None if row is None else Document(*row)

    def get_document(self, unit: str, document_id: str) -> Document | None:
        row = (
            self._db()
            .execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE unit = ? AND id = ?", (unit, document_id))
            .fetchone()
        )
        return None if row is None else Document(*row)

    def list_documents(self, unit: str) -> list[Document]:
        rows = (
            self._db()
            .execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE unit = ? ORDER BY created_at, id", (unit,))
            .fetchall()
        )
        return [Document(*r) for r in rows]

    def add_document(
        self,
        document: Document,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> list[int]:
        with self._write() as db:
            db.execute(f"INSERT INTO documents ({_DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _doc_row(document))
            return _insert_passages(db, passages, tokens, vectors)

    def replace_document(
        self,
        document: Document,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> tuple[list[int], list[int]]:
        with self._write() as db:
            old = [
                int(r[0])
                for r in db.execute(
                    "SELECT key FROM passages WHERE document_id = ? AND unit = ?", (document.id, document.unit)
                ).fetchall()
            ]
            db.execute("DELETE FROM passages WHERE document_id = ? AND unit = ?", (document.id, document.unit))
            db.execute(
                "UPDATE documents SET title = ?, date = ?, source = ?, text = ?, content_hash = ?, passages = ?,"
                " created_at = ? WHERE id = ? AND unit = ?",
                (
                    document.title,
                    document.date,
                    document.source,
                    document.text,
                    document.content_hash,
                    document.passages,
                    document.created_at,
                    document.id,
                    document.unit,
                ),
            )
            return old, _insert_passages(db, passages, tokens, vectors)

    def delete_document(self, unit: str, document_id: str) -> list[int]:
        with self._write() as db:
            keys = [
                int(r[0])
                for r in db.execute(
                    "SELECT key FROM passages WHERE document_id = ? AND unit = ?", (document_id, unit)
                ).fetchall()
            ]
            db.execute("DELETE FROM passages WHERE document_id = ? AND unit = ?", (document_id, unit))
            db.execute("DELETE FROM documents WHERE id = ? AND unit = ?", (document_id, unit))
        return keys

    # -- passages ----------------------------------------------------------------------
    def passages(self, keys: Sequence[int]) -> list[StoredPassage]:
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = (
            self._db()
            .execute(
                'SELECT p.key, p.id, p.document_id, p.unit, p.seq, p.start, p."end", p.text, d.title, d.date, p.vector'
                f" FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.key IN ({marks})",
                [int(k) for k in keys],
            )
            .fetchall()
        )
        by_key = {
            int(r[0]): StoredPassage(
                key=int(r[0]),
                passage=Passage(id=r[1], document_id=r[2], unit=r[3], seq=r[4], start=r[5], end=r[6], text=r[7]),
                title=r[8],
                date=r[9],
                vector=np.frombuffer(r[10], dtype=np.float32),
            )
            for r in rows
        }
        return [by_key[int(k)] for k in keys if int(k) in by_key]

    def unit_fingerprint(self, unit: str) -> str:
        count, largest, total = (
            self._db()
            .execute(
                "SELECT count(*), coalesce(max(key), 0), coalesce(sum(key), 0) FROM passages WHERE unit = ?", (unit,)
            )
            .fetchone()
        )
        return keys_fingerprint(int(count), int(largest), int(total))

    def index_rows(self, unit: str) -> IndexRows:
        rows = (
            self._db()
            .execute("SELECT key, tokens, vector FROM passages WHERE unit = ? ORDER BY key", (unit,))
            .fetchall()
        )
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        tokens = [r[1].split() for r in rows]
        if rows:
            vectors = np.vstack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        else:
            vectors = np.zeros((0, 0), dtype=np.float32)
        return IndexRows(keys=keys, tokens=tokens, vectors=vectors)
