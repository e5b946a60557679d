"""The live questions being answered right now, so that background work (an evaluation) can step
aside for them: it asks its next question only in a lull of the civil servants' questions."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class LiveTraffic:
    def __init__(self) -> None:
        self._answering = 0
        self._last_answered = float("-inf")  # time.monotonic() when the last live question was answered
        self._changed = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around one live question, from its request's first byte to its answer's last."""
        with self._changed:
            self._answering += 1
        try:
            yield
        finally:
            with self._changed:
                self._answering -= 1
                self._last_answered = time.monotonic()
                self._changed.notify_all()

    @property
    def busy(self) -> bool:
        return self._answering > 0

    def wait_lull(self, lull_s: float, timeout_s: float) -> bool:
        """Waits until no live question has been answered for ``lull_s`` and none is being answered,
        at most ``timeout_s``; True if there is such a lull.

        Not only "none in flight": a user asking back to back leaves gaps of a millisecond between
        questions, and background work started in one would run alongside the next question."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                now = time.monotonic()
                quiet_since = now - self._last_answered
                if self._answering == 0 and quiet_since >= lull_s:
                    return True
                if now >= deadline:
                    return False
                wait = deadline - now if self._answering else min(deadline - now, lull_s - quiet_since)
                self._changed.wait(wait)
