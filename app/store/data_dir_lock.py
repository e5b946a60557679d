"""One process at a time on a data directory: a lock file that the kernel lets go of when its process dies.

The embedded knowledge base is SQLite plus each unit's search indexes in the memory of the process
that opened it. A second process on the same directory would build indexes of its own, never learn
of the first one's writes, and answer wrongly or fail. So whatever opens the knowledge base
(``app.wiring.open_assistant``) first takes an exclusive ``flock`` on ``troly.lock`` in the data
directory, and writes its pid, host and start time into the file. A second process is refused with
``DataDirInUse``, which names the holder; it has written nothing (the file already exists, and it
is opened without truncation).

The lock goes with ``release()`` or with the process, however the process ends (SIGKILL and OOM kills
included): the kernel drops ``flock`` locks when the last descriptor of the open file closes. The file
stays behind, unlocked, and the next process takes it. ``flock`` locks an open file, not a process, so a
second open within one process is refused too (an assistant opened twice without closing the first).
A forked child shares the lock only until it execs, because the descriptor is close-on-exec.

In cluster mode (``Settings.cluster_mode``: passages searched in Milvus, which every process reaches) any
number of processes serve one knowledge base, so each takes the lock *shared*: they do not exclude one
another, but an embedded process on the same directory (whose indexes would miss their writes) is refused,
and they are refused while one holds it. Shared holders write no pid: there may be many.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.errors import DataDirInUse

LOCK_FILE = "troly.lock"
# The advice every refusal ends with: the docs' section on one process per data directory.
ADVICE = (
    "stop it, or use another TROLY_DATA_DIR; several processes sharing one knowledge base need cluster mode "
    "(docs/operations.md, *One process per data directory*)"
)


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as the holder wrote it into the file."""

    pid: int
    host: str
    since: str  # local time with its offset, to the second

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), datetime.now().astimezone().isoformat(timespec="seconds"))

    def to_bytes(self) -> bytes:
        return json.dumps({"pid": self.pid, "host": self.host, "since": self.since}).encode("utf-8")

    @classmethod
    def parse(cls, raw: bytes) -> Holder | None:
        """None for an empty or half-written file: the holder locked it a moment ago and is writing it."""
        try:
            fields = json.loads(raw.decode("utf-8"))
            return cls(int(fields["pid"]), str(fields["host"]), str(fields["since"]))
        except (ValueError, KeyError, TypeError):
            return None


def in_use_message(data_dir: Path, holder: Holder | None) -> str:
    if holder is None:
        who = "other troly processes (in cluster mode, or one that has not written its pid yet)"
    elif holder.pid == os.getpid() and holder.host == socket.gethostname():
        return (
            f"the data directory {data_dir} is already open in this process (pid {holder.pid}, since "
            f"{holder.since}): close the assistant that holds it (Assistant.close) before opening another"
        )
    else:
        where = "" if holder.host == socket.gethostname() else f" on {holder.host}"
        who = f"another troly process (pid {holder.pid}{where}, since {holder.since})"
    return f"the data directory {data_dir} is in use by {who}: {ADVICE}"


class DataDirLock:
    """The data directory's lock, held from ``acquire`` until ``release`` (or the process's end)."""

    def __init__(self, path: Path, fd: int, shared: bool = False) -> None:
        """Use ``acquire``."""
        self.path = path
        self.shared = shared
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path, shared: bool = False) -> DataDirLock:
        """Takes ``data_dir``'s lock (the folder must exist), or raises ``DataDirInUse`` without
        having changed anything in it. ``shared``: a cluster-mode process's, which other shared
        holders do not exclude."""
        path = data_dir / LOCK_FILE
        # No O_TRUNC: a refused process must leave the holder's pid in the file. os.open's descriptors
        # are close-on-exec (PEP 446): a program this process starts does not inherit the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Holder.parse(os.pread(fd, 4096, 0))
            os.close(fd)
            raise DataDirInUse(in_use_message(data_dir, holder)) from None
        except BaseException:
            os.close(fd)
            raise
        if shared:
            return cls(path, fd, shared=True)
        try:
            written = Holder.me().to_bytes()
            os.ftruncate(fd, 0)
            os.pwrite(fd, written, 0)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def release(self) -> None:
        """Lets go of the lock (again: nothing). The file stays, emptied, for the next holder."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self.shared:  # the file names no shared holder, and others may still hold it
            os.close(fd)
            return
        with contextlib.suppress(OSError):  # still ours until closed: no one reads a stale pid meanwhile
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor lets go of the flock

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
