"""A real Milvus for the search backend's tests: milvus-lite's gRPC server (the dev extra), in a process
of its own on a free loopback port, over a data folder in a temporary directory.

It is stopped by its PID with SIGINT, which milvus-lite handles as a graceful stop (its data closed
cleanly); it runs in a session of its own, so that a Ctrl-C in pytest does not reach it, and a test can
stop it and start it again on the same port and data folder, as an operator restarting Milvus would.

Not a test module: test modules import ``milvus_server`` (the session fixture) by name.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from llm_servers import free_port

from app.bench import milvus_lite

READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15


@dataclass
class MilvusLite:
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return milvus_lite.log_of(self.folder)

    def new_collection(self) -> str:
        """A collection name no other test of the session uses (each test starts empty)."""
        return f"troly_test_{os.getpid()}_{next(self._names)}"

    def start(self) -> MilvusLite:
        """Starts the server over the data folder (kept across restarts); returns once it accepts connections."""
        self.process = milvus_lite.launch(self.folder, self.port)
        try:
            milvus_lite.wait_listening(self.process, self.port, READY_TIMEOUT_S)
        except milvus_lite.MilvusLiteFailed as exc:
            self.stop()
            raise RuntimeError(f"{exc}:\n{self.log.read_text()}") from None
        return self

    def stop(self) -> None:
        """SIGINT by PID (a graceful stop), SIGKILL if it has not exited in time."""
        process, self.process = self.process, None
        if process is not None:
            milvus_lite.stop(process, STOP_TIMEOUT_S)


@contextmanager
def running() -> Iterator[MilvusLite]:
    """A server over a new temporary folder; stopped, and its folder removed, on leaving."""
    folder = Path(tempfile.mkdtemp(prefix="troly-milvus-"))
    server = MilvusLite(folder, free_port())
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def milvus_server() -> Iterator[MilvusLite]:
    """One milvus-lite server for the session; ``milvus_server.new_collection()`` gives each test its own
    collection. A test that stops the server runs one of its own (``running()``)."""
    with running() as server:
        yield server
