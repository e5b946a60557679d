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


class MilvusLiteFailed(RuntimeError):
    """The server exited, or did not listen in time (its log says why)."""


@contextlib.contextmanager
def running(folder: Path) -> Iterator[MilvusLiteServer]:
    """A server over ``folder/data`` (its log in ``folder``), stopped by its PID on leaving."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = log_of(folder)
    process = launch(folder, port)
    server = MilvusLiteServer(process, port, log)
    try:
        try:
            wait_listening(process, port, READY_TIMEOUT_S)
        except MilvusLiteFailed as exc:
            raise click.ClickException(f"{exc}; see {log}") from None
        yield server
    finally:
        stop(process, STOP_TIMEOUT_S)


def log_of(folder: Path) -> Path:
    """Where ``launch`` appends the server's output."""
    return folder / "milvus-lite.log"


def launch(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """``milvus_lite server`` on 127.0.0.1:``port`` over ``folder/data``, its output appended to
    ``folder/milvus-lite.log``, in a session of its own (a Ctrl-C meant for the caller does not reach it)."""
    with log_of(folder).open("ab") as sink:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "milvus_lite", "server"),
                *("--host", "127.0.0.1", "--port", str(port), "--data-dir", str(folder / "data")),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    """Returns once the port accepts connections: it is bound only after the data folder is opened and its
    log replayed. Raises ``MilvusLiteFailed`` if the server exits first or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MilvusLiteFailed(f"milvus-lite exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise MilvusLiteFailed(f"milvus-lite did not listen within {timeout_s:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGINT by PID (milvus-lite's graceful stop), SIGKILL if it has not exited within ``timeout_s``."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)
