"""A data directory of troly 0.1.0 upgraded in place: the SQLite files that release kept beside the
knowledge base, copied into the one database at the first start of this release.

0.1.0 wrote five files of its own into the data directory: ``access.sqlite3`` (API keys, the audit
trail), ``activity.sqlite3`` (questions asked, feedback), ``eval_history.sqlite3`` (evaluation runs),
``question_sets.sqlite3`` and ``evaluations.sqlite3`` (the service's evaluation jobs). Their tables are
now in the database every store shares (revision 0003, app.store.schema). Whatever opens the data
directory's database (app.wiring.open_database) first calls ``import_legacy_files``, which for each such
file found:

1. reads all its rows, in one read transaction of the file;
2. copies them into the database in one transaction, with their ids as they were (a run is still run 7,
   the jobs that name it still do), and records the file in ``imported_files`` by the digest of what was
   read, in the same transaction: all or nothing;
3. renames the file ``<name>.migrated`` (kept, never deleted: the way back to 0.1.0 is a backup, but the
   file stays at hand).

A start interrupted between 2 and 3 finds the digest recorded at the next start and only renames the
file. Two processes importing at once are ordered by the database (SQLite's write transaction; on
PostgreSQL the schema's advisory lock): the second finds the first's record. A file whose rows clash with
rows the database already holds (a second 0.1.0 data directory pointed at one PostgreSQL) is refused with
``LegacyImportFailed``, nothing changed; so is a file that cannot be read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.errors import LegacyImportFailed
from app.store.database import Database
from app.store.migrate import ADVISORY_LOCK_KEY
from app.store.schema import (
    api_keys,
    asks,
    audit_log,
    evaluation_jobs,
    evaluation_runs,
    feedback,
    imported_files,
    question_sets,
)
from app.store.sqlite_connect import connect

log = logging.getLogger(__name__)

MIGRATED = ".migrated"  # the suffix a copied file is renamed with
_BATCH = 1000  # rows per INSERT: a big activity log goes in a few statements, not one per row

Row = dict[str, Any]


@dataclass(frozen=True)
class Copy:
    """One table of a 0.1.0 file and where its rows go: the same columns in ``target``."""

    source: str  # the table in the file
    target: sa.Table
    columns: tuple[str, ...]
    order: str  # the file's column that orders its rows ("rowid": the order they were written in)
    # The counter copied as it was, if any: PostgreSQL's sequence is then moved past the copied values.
    serial: str | None = None
    # Columns 0.1.0 did not store, computed from a row.
    derived: Callable[[Row], Row] | None = None


def _question_count(row: Row) -> Row:
    return {"question_count": len(json.loads(row["questions"]))}


LEGACY_FILES: dict[str, tuple[Copy, ...]] = {
    "access.sqlite3": (
        Copy("keys", api_keys, ("id", "hash", "role", "units", "created_at", "revoked_at"), "rowid"),
        Copy("audit", audit_log, ("seq", "at", "key_id", "action", "unit", "target", "detail"), "seq", "seq"),
    ),
    "activity.sqlite3": (
        Copy("asks", asks, ("id", "at", "unit", "question", "answered", "confidence", "latency_ms"), "rowid"),
        Copy("feedback", feedback, ("answer_id", "at", "helpful", "comment"), "rowid"),
    ),
    "eval_history.sqlite3": (
        Copy(
            "runs",
            evaluation_runs,
            ("id", "created_at", "questions", "corpus", "unit", "target", "summary", "records"),
            "id",
            "id",
        ),
    ),
    "question_sets.sqlite3": (
        Copy(
            "question_sets",
            question_sets,
            ("seq", "id", "unit", "name", "created_at", "questions"),
            "seq",
            "seq",
            _question_count,
        ),
    ),
    "evaluations.sqlite3": (
        Copy(
            "evaluations",
            evaluation_jobs,
            (
                *("seq", "id", "unit", "question_set", "question_set_name", "status", "progress", "created_at"),
                *("finished_at", "error", "result", "run", "owner"),
            ),
            "seq",
            "seq",
        ),
    ),
}


def import_legacy_files(database: Database, data_dir: Path) -> list[str]:
    """Copies each 0.1.0 file of ``data_dir`` into ``database`` (see the module's docstring); returns the
    names of the files it set aside. ``database``'s schema is at the head. Raises ``LegacyImportFailed``."""
    moved = []
    for name, copies in LEGACY_FILES.items():
        path = data_dir / name
        if not path.is_file():
            continue
        tables = _read(path, copies)
        digest = _digest(name, tables)
        rows = sum(len(r) for r in tables.values())
        copied = _copy(database, path, copies, tables, digest)
        kept = _set_aside(path)
        moved.append(name)
        if copied:
            log.info("copied %s (%d rows) into %s; the file is kept as %s", path, rows, database.redacted_url, kept)
    return moved


def _read(path: Path, copies: tuple[Copy, ...]) -> dict[str, list[Row]]:
    """Every row of the file's tables, in one read transaction (its WAL included)."""
    try:
        db = connect(path)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from exc
    try:
        db.execute("BEGIN")
        out: dict[str, list[Row]] = {}
        for copy in copies:
            cursor = db.execute(f"SELECT {', '.join(copy.columns)} FROM {copy.source} ORDER BY {copy.order}")
            out[copy.source] = [dict(zip(copy.columns, r, strict=True)) for r in cursor.fetchall()]
        db.execute("COMMIT")
        return out
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from exc
    finally:
        db.close()


def _unreadable(path: Path, exc: Exception) -> LegacyImportFailed:
    return LegacyImportFailed(
        f"cannot read {path}, a file troly 0.1.0 kept in the data directory ({exc}): this release copies it "
        f"into the database at its first start; restore it from a backup, or move it away to start without "
        "its rows; nothing was changed"
    )


def _digest(name: str, tables: dict[str, list[Row]]) -> str:
    body = json.dumps([name, tables], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _copy(database: Database, path: Path, copies: tuple[Copy, ...], tables: dict[str, list[Row]], digest: str) -> bool:
    """The file's rows into the database with its record, in one transaction; False if it was copied before."""
    try:
        with database.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
            if conn.scalar(sa.select(imported_files.c.name).where(imported_files.c.digest == digest)) is not None:
                return False
            for copy in copies:
                rows = [{**r, **copy.derived(r)} if copy.derived else r for r in tables[copy.source]]
                for start in range(0, len(rows), _BATCH):
                    conn.execute(sa.insert(copy.target), rows[start : start + _BATCH])
                if copy.serial is not None and conn.dialect.name == "postgresql":
                    _move_sequence(conn, copy.target, copy.serial)
            conn.execute(
                sa.insert(imported_files).values(
                    digest=digest,
                    name=path.name,
                    rows=sum(len(r) for r in tables.values()),
                    imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )
    except sa.exc.IntegrityError as exc:
        reason = " ".join(str(exc.orig).split())  # PostgreSQL's DETAIL on the same line: one error line
        raise LegacyImportFailed(
            f"cannot copy {path}, a file troly 0.1.0 kept in the data directory, into {database.redacted_url}: "
            f"its rows clash with rows the database already holds ({reason}), as when the files of two data "
            "directories go into one database; move the file away to start without its rows; nothing was changed"
        ) from None
    return True


def _move_sequence(conn: Connection, table: sa.Table, column: str) -> None:
    """PostgreSQL's sequence past the values copied in, so that the next row gets the next number
    (SQLite's AUTOINCREMENT keeps track of explicit values by itself)."""
    sequence = sa.func.pg_get_serial_sequence(table.name, column)
    following = sa.select(sa.func.coalesce(sa.func.max(table.c[column]), 0) + 1).scalar_subquery()
    conn.execute(sa.select(sa.func.setval(sequence, following, False)))


def _set_aside(path: Path) -> Path:
    """Renames the file (and any -wal or -shm beside it) ``<name>.migrated``, or ``<name>.migrated.2`` …
    when an earlier one is there; returns the new path. Another process may have renamed it already."""
    target = path.with_name(path.name + MIGRATED)
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{MIGRATED}.{n}")
    with contextlib.suppress(FileNotFoundError):
        path.rename(target)
    for side in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + side).rename(target.with_name(target.name + side))
    return target
