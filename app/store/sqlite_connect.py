"""The one way troly opens SQLite: the database every store shares (through SQLAlchemy,
app.store.database), and the plain connections of backups and of troly 0.1.0's files read once at the
upgrade (app.store.legacy_files) all get the same connection settings.

* WAL: readers never wait for the writer, and a crash leaves the last commit intact.
* ``synchronous=NORMAL``: in WAL mode a commit is durable against a crash of the process
  and the file is never corrupted; only a power cut may lose the last commits.
* foreign keys enforced (SQLite leaves them off unless asked, per connection).
* a busy timeout: a second writer waits for the lock instead of failing at once.
* autocommit (``isolation_level=None``): each statement commits unless the caller opens a
  transaction itself (``BEGIN IMMEDIATE``); Python's implicit transactions are never used.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_S = 30.0


def apply_pragmas(db: sqlite3.Connection) -> None:
    """The settings above, on a connection in autocommit mode (the journal mode cannot change inside a
    transaction). The document store's SQLAlchemy engine runs this on each connection it opens too."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    apply_pragmas(db)
    return db
