"""Named laps of one request: how ``Answer.timings_ms`` and the benchmark's stage breakdown are timed.

The core times its own stages with one of these, so that the benchmark reads where a
question's time goes from the real ``retrieve`` and ``ask`` instead of re-implementing them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stopwatch:
    def __init__(self) -> None:
        self.laps_ms: dict[str, float] = {}

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        """Adds the block's wall time to lap ``name``: a stage run once per unit sums over units."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.laps_ms[name] = self.laps_ms.get(name, 0.0) + (time.perf_counter() - started) * 1000.0


class _NoWatch(Stopwatch):
    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        yield


NO_WATCH: Stopwatch = _NoWatch()  # for callers that do not time: the laps cost nothing
