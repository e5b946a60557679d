"""`troly serve` as a real process for the tests that need one (several replicas, a SIGKILL): started with
an environment of the test's choosing, waited for until ready, stopped by its PID (SIGTERM, then SIGKILL)
unless the test has stopped it already. Not a test module: test modules import it by name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from llm_servers import free_port

START_S = 180  # the model loads in a few seconds; the machine may be busy


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL: the process ends at once, wherever it is, as a machine dying would end it."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


def troly_env(**troly: str) -> dict[str, str]:
    """This process's environment without its TROLY_ variables, plus ``troly`` (``data_dir="…"`` sets
    TROLY_DATA_DIR)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TROLY_")},
        **{f"TROLY_{name.upper()}": value for name, value in troly.items()},
        "TQDM_DISABLE": "1",
    }


def start(env: dict[str, str], log: Path, *args: str, ready: bool = True) -> ServeProcess:
    """``troly serve ARGS`` in its own process; once ``/readyz`` says so unless ``ready`` is False."""
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)
    server = ServeProcess(process, f"http://127.0.0.1:{port}", log)
    if ready:
        wait_ready(server)
    return server


def wait_ready(server: ServeProcess) -> None:
    deadline = time.monotonic() + START_S
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"troly serve exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            if httpx.get(server.url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("troly serve did not become ready:\n" + server.log.read_text())
        time.sleep(0.3)


def stop(server: ServeProcess) -> None:
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def serving(env: dict[str, str], log: Path, *args: str) -> Iterator[ServeProcess]:
    server = start(env, log, *args)
    try:
        yield server
    finally:
        stop(server)
