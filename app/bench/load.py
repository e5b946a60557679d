"""The real service under load: started in a subprocess on 127.0.0.1, asked by concurrent clients.

Each client is a thread with its own keep-alive ``httpx.Client`` asking questions back to back
(a closed loop), so with C clients there are at most C requests in flight. Latency is
measured by the client, from sending the request to having read the whole response.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.bench.common import clean_env


@dataclass(frozen=True)
class ServerVariant:
    """How the service is started: the real CLI, or the bench launcher with a thread-pool limit."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    threadpool: int | None = None  # None: `troly serve` exactly as shipped
    description: str = ""

    def command(self, data_dir: Path, port: int) -> list[str]:
        if self.threadpool is None:
            return [
                sys.executable,
                "-m",
                "app.cli",
                "--data-dir",
                str(data_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
        return [
            sys.executable,
            "-m",
            "app.bench.server",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--threadpool",
            str(self.threadpool),
        ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    startup_s: float
    log: Path


# Every question is embedded: the service's cache of repeated questions would flatter the figures.
_UNCACHED = {"TROLY_QUERY_CACHE_SIZE": "0"}


@contextlib.contextmanager
def serve(variant: ServerVariant, data_dir: Path, work: Path, timeout: float = 600.0) -> Iterator[RunningServer]:
    """Starts the service and waits for /healthz; start-up time is until the first 200."""
    port = free_port()
    log = work / f"server-{variant.name}-{port}.log"
    started = time.perf_counter()
    with log.open("wb") as sink:
        # cwd=work: Settings reads a .env file from the working directory; none must leak in.
        process = subprocess.Popen(
            variant.command(data_dir, port),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_env({**_UNCACHED, **variant.env}),
            cwd=work,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the service exited with {process.returncode}; see {log}")
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"the service did not start in {timeout:.0f} s; see {log}")
                try:
                    if client.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        yield RunningServer(url, process, time.perf_counter() - started, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = q / 100.0 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class LevelResult:
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[str, int]
    abstained: int

    def summary(self) -> dict[str, Any]:
        ok = self.requests - self.errors
        lat = self.latencies_ms
        return {
            "clients": self.clients,
            "requests": self.requests,
            "errors": self.errors,
            "statuses": self.statuses,
            "seconds": round(self.seconds, 2),
            "answers_per_s": round(ok / self.seconds, 2) if self.seconds > 0 else 0.0,
            "p50_ms": round(percentile(lat, 50), 2),
            "p95_ms": round(percentile(lat, 95), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "mean_ms": round(sum(lat) / len(lat), 2) if lat else float("nan"),
            "max_ms": round(max(lat), 2) if lat else float("nan"),
            "abstained_share": round(self.abstained / ok, 3) if ok else None,
        }


def run_level(
    url: str,
    clients: int,
    questions: Sequence[str],
    requests: int,
    max_seconds: float,
    unit: str,
    warmup: int = 2,
) -> LevelResult:
    """``requests`` questions in total (or as many as fit in ``max_seconds``) from ``clients`` threads."""
    # One function: the client threads, the shared counter and the deadline are one closure;
    # split, the hot loop would pass them around and time itself doing so.
    lock = threading.Lock()
    counter = {"next": 0}
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    abstained = 0
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def take() -> int | None:
        with lock:
            n = counter["next"]
            if n >= requests or time.perf_counter() > deadline[0]:
                return None
            counter["next"] = n + 1
            return n

    def client_loop(cid: int) -> None:
        nonlocal errors, abstained
        with httpx.Client(base_url=url, timeout=60.0) as client:
            for w in range(warmup):  # connection set-up and first-request costs stay out of the figures
                with contextlib.suppress(httpx.HTTPError):
                    client.post(
                        "/v1/ask",
                        json={"question": questions[(cid * 7 + w) % len(questions)], "unit": unit, "top_k": 5},
                    )
            barrier.wait()
            while (n := take()) is not None:
                body = {"question": questions[n % len(questions)], "unit": unit, "top_k": 5}
                started = time.perf_counter()
                try:
                    response = client.post("/v1/ask", json=body)
                    elapsed = (time.perf_counter() - started) * 1000.0
                    key = str(response.status_code)
                    is_abstained = response.status_code == 200 and bool(response.json().get("abstained"))
                except httpx.HTTPError as exc:
                    elapsed = (time.perf_counter() - started) * 1000.0
                    key = type(exc).__name__
                    is_abstained = False
                with lock:
                    statuses[key] = statuses.get(key, 0) + 1
                    if key == "200":
                        latencies.append(elapsed)
                        abstained += is_abstained
                    else:
                        errors += 1

    threads = [threading.Thread(target=client_loop, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + 3600.0
    barrier.wait()
    started = time.perf_counter()
    deadline[0] = started + max_seconds
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return LevelResult(clients, sum(statuses.values()), errors, seconds, latencies, statuses, abstained)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None
