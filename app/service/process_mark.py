"""Which service process owns a queued or running evaluation, and whether that process still lives.

Each process holds a lock file of its own (``flock``) for as long as it runs; the kernel lets go
of it when the process dies, however it dies. A job whose owner's lock is free was left behind by a
dead process: it will never finish and is marked failed. Several workers of one service (``--workers``,
once cluster mode exists: the embedded knowledge base serves from one process, app.store.data_dir_lock)
share the data directory and never fail each other's jobs.
"""

from __future__ import annotations

import contextlib
import fcntl
import secrets
from pathlib import Path
from typing import IO

FOLDER = "evaluation-owners"


class ProcessMark:
    def __init__(self, data_dir: Path) -> None:
        self._folder = data_dir / FOLDER
        self._folder.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(8)
        self._path = self._folder / f"{self.token}.lock"
        self._file: IO[str] | None = self._path.open("w")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def alive(self, token: str) -> bool:
        """Whether the process that took ``token`` still runs (this one does while not closed)."""
        if token == self.token:
            return self._file is not None
        path = self._folder / f"{token}.lock"
        # Only tokens this module made (hex) name a file here: nothing else is opened.
        if not token.isalnum() or not path.is_file():
            return False
        with path.open("a") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            # Free: its process is gone. The lock is ours until closed, so no one else takes the file.
            path.unlink(missing_ok=True)
            return False

    def close(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._path.unlink()
        self._file.close()  # closing lets go of the lock
        self._file = None
