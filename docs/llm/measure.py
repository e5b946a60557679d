"""The figures of docs/llm.md, *What was measured here*: a running troly (TROLY_READER=llm) asked
over HTTP, streamed, timing the citations event, the first delta and the done event; then the same
with its LLM server stopped. Usage: python docs/llm/measure.py URL QUESTIONS.jsonl N [--label L]"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import httpx


def timed(client: httpx.Client, question: str) -> dict[str, object]:
    started = time.perf_counter()
    marks: dict[str, float] = {}
    done: dict[str, object] = {}
    with client.stream("POST", "/v1/ask", json={"question": question, "top_k": 3, "stream": True}) as response:
        name = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
                marks.setdefault(name, (time.perf_counter() - started) * 1000)
            elif line.startswith("data:") and name == "done":
                done = json.loads(line[5:])
    return {**marks, "reader": done.get("reader"), "fallback": done.get("reader_fallback")}


def main() -> None:
    url, questions, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    asked = [json.loads(line)["question"] for line in questions.read_text(encoding="utf-8").splitlines()[:n]]
    with httpx.Client(base_url=url, timeout=120) as client:
        rows = [timed(client, q) for q in asked]
    for event in ("citations", "delta", "done"):
        values = [float(r[event]) for r in rows if event in r]  # type: ignore[arg-type]
        if values:
            print(f"{event:9} n={len(values):2} p50={statistics.median(values):8.1f} ms  max={max(values):8.1f} ms")
    readers: dict[str, int] = {}
    for r in rows:
        key = f"{r['reader']} ({str(r['fallback'])[:40]})" if r["fallback"] else str(r["reader"])
        readers[key] = readers.get(key, 0) + 1
    print("readers:", readers)


if __name__ == "__main__":
    main()
