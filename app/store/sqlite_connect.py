"""The one way troly opens SQLite: the document store, the activity log, API keys and the
evaluation history all get the same connection settings.

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
import threading
from pathlib import Path

BUSY_TIMEOUT_S = 30.0


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


class ThreadConnections:
    """One connection per thread to one database file, opened on first use.

    A connection is never shared between threads: the service answers on a thread pool, and
    one thread's open transaction must not swallow another's statements.
    """

    def __init__(self, path: Path, schema: str = "") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._local = threading.local()
        if schema:
            self().executescript(schema)

    def __call__(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self._path)
        return db

    def close(self) -> None:
        """Closes this thread's connection (the next use opens another)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
