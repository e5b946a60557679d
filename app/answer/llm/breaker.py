"""A circuit breaker: after enough failures in a row, stop calling for a while, then probe once.

Written here rather than taken from a library (pybreaker, aiobreaker) because those wrap one
function call, and an LLM answer is a stream whose success is known only at its end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum


class State(Enum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are refused until the cool-down ends
    HALF_OPEN = "half-open"  # one probing call is out; the others are refused


class CircuitBreaker:
    def __init__(self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        """``failures``: failed calls in a row that open the circuit; ``reset_s``: how long it stays open."""
        self.failures = failures
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failed = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return State.CLOSED
        if self._probing or self._clock() - self._opened_at < self.reset_s:
            return State.HALF_OPEN if self._probing else State.OPEN
        return State.HALF_OPEN

    def allow(self) -> bool:
        """Whether a call may go out now. Once the cool-down is over, the first caller is let
        through as the probe and the others wait for its outcome (refused meanwhile)."""
        with self._lock:
            state = self._state()
            if state is State.CLOSED:
                return True
            if state is State.OPEN or self._probing:
                return False
            self._probing = True
            return True

    def retry_in(self) -> float:
        """Seconds until a probe may go out (0 when closed)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.reset_s - (self._clock() - self._opened_at))

    def succeeded(self) -> None:
        with self._lock:
            self._failed = 0
            self._opened_at = None
            self._probing = False

    def abandoned(self) -> None:
        """A call given up by its caller (a client that went away): neither outcome is known."""
        with self._lock:
            self._probing = False

    def failed(self) -> None:
        with self._lock:
            self._failed += 1
            if self._probing or self._failed >= self.failures:
                self._opened_at = self._clock()
            self._probing = False
