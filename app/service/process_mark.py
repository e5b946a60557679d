"""Which service process owns a queued or running evaluation, and whether that process still lives.

Each process holds a lock file of its own (``flock``) in the data directory for as long as it runs; the
kernel lets go of it when the process dies, however it dies. A job whose owner's lock is free was left
behind by a dead process: it will never finish and is marked failed.

A process's token names the host and data directory it runs in as well (``<hex>@<host>:<data dir>``):
only a process there can look at its lock. Replicas of a cluster each have their own data directory (or
host), so for another replica's token ``alive`` answers None, and its jobs' beats decide instead
(app.service.evaluation_records: a replica silent for two minutes is taken for dead). A token without a
place (troly 0.1.0's, imported with its jobs) is judged here, as 0.1.0 did.
"""

from __future__ import annotations

import contextlib
import fcntl
import secrets
import socket
from pathlib import Path
from typing import IO

FOLDER = "evaluation-owners"


class ProcessMark:
    def __init__(self, data_dir: Path) -> None:
        self._folder = data_dir / FOLDER
        self._folder.mkdir(parents=True, exist_ok=True)
        self.place = f"{socket.gethostname()}:{data_dir.resolve()}"
        name = secrets.token_hex(8)
        self.token = f"{name}@{self.place}"
        self._path = self._folder / f"{name}.lock"
        self._file: IO[str] | None = self._path.open("w")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def alive(self, token: str) -> bool | None:
        """Whether the process that took ``token`` still runs (this one does while not closed); None
        when it ran on another host or data directory, whose locks this process cannot see."""
        if token == self.token:
            return self._file is not None
        name, _, place = token.partition("@")
        if place and place != self.place:
            return None
        path = self._folder / f"{name}.lock"
        # Only tokens this module made (hex) name a file here: nothing else is opened.
        if not name.isalnum() or not path.is_file():
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
