"""A milvus-lite server for ``troly bench --backend milvus`` when no ``--milvus-uri`` is given.

milvus-lite (the dev extra) is Milvus's single-process server for development: its gRPC server in a
Python process of its own, on a free loopback port, over a data folder in the bench's work folder.
It runs in a session of its own, so that a Ctrl-C meant for the bench does not stop it half-way
through a measurement; the bench stops it by its PID on leaving ``running`` (SIGINT, milvus-lite's
graceful stop; SIGKILL if it does not exit in time), whether the run ended, failed or was interrupted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from app.bench.load import free_port

READY_TIMEOUT_S = 120.0  # the port opens once the data folder is open: seconds, more on a busy machine
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MilvusLiteServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid


def version() -> str | None:
    """The installed milvus-lite's version, None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version("milvus-lite")
    except metadata.PackageNotFoundError:
        return None


def check_installed() -> None:
    """Refuses to start a run that would need milvus-lite without it (before anything is measured)."""
    if importlib.util.find_spec("milvus_lite") is None:
        raise click.UsageError(
            "--backend milvus without --milvus-uri starts a milvus-lite server, which is not installed: "
            "pip install -e '.[dev]', or give the address of a running Milvus with --milvus-uri"
        )


@contextlib.contextmanager
def running(folder: Path) -> Iterator[MilvusLiteServer]:
    """A server over ``folder/data`` (its log in ``folder``), stopped by its PID on leaving."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "milvus-lite.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "milvus_lite", "server"),
                *("--host", "127.0.0.1", "--port", str(port), "--data-dir", str(folder / "data")),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    server = MilvusLiteServer(process, port, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: MilvusLiteServer) -> None:
    """The port is bound only after the data folder is opened and its log replayed."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise click.ClickException(f"milvus-lite exited with {server.process.returncode}; see {server.log}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise click.ClickException(f"milvus-lite did not listen within {READY_TIMEOUT_S:.0f} s; see {server.log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
