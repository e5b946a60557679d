"""A connection to Milvus that turns every failure into ``SearchUnavailable`` and connects again.

pymilvus is imported inside the functions: the embedded backend never loads it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from app.errors import SearchMisconfigured, SearchUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

TIMEOUT_S = 10.0  # each call's deadline: a hung Milvus answers 503s, it does not hold requests
RETRY_WITHIN_S = 2.0  # a call that failed sooner than this is tried once more (see MilvusConnection.run)


class MilvusConnection:
    def __init__(self, uri: str, token: str | None, collection: str) -> None:
        """Connects at the first call. ``collection``: the one loaded again when a restarted server
        released it (milvus-lite releases every collection when it restarts)."""
        self.uri = uri
        self._token = token
        self._collection = collection
        self._client: Any = None
        self._lock = threading.Lock()

    def run(self, what: str, call: Callable[[Any], T]) -> T:
        """``call`` on the connection (a ``MilvusClient``), once more on a new connection if it failed at
        once (every call troly makes can run twice: writes are upserts and deletes by key); a second
        failure is ``SearchUnavailable`` (a 503), saying it could not ``what``.

        The second try is for a connection the server closed while it was idle (milvus-lite's gRPC server
        closes connections whose keepalive pings come more often than it allows, pymilvus's every 10 s)
        or for a Milvus restarted since the last call. A call that failed slowly (a hung server, its
        deadline passed) is not tried again: the request would wait twice as long for the same 503."""
        failures = _failures()
        started = time.monotonic()
        try:
            return self._attempt(call)
        except failures as exc:
            if time.monotonic() - started > RETRY_WITHIN_S:
                raise self._unavailable(what, exc) from exc
            log.info("Milvus at %s: %s; trying once more on a new connection", self.uri, _message(exc))
        try:
            return self._attempt(call)
        except failures as exc:
            raise self._unavailable(what, exc) from exc

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _connected(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    from pymilvus import MilvusClient
                except ImportError as exc:
                    raise SearchMisconfigured(
                        f"TROLY_SEARCH_BACKEND=milvus needs pymilvus: pip install 'troly[cluster]' ({exc})"
                    ) from exc
                # dedicated: a connection of its own, which closing drops (pymilvus shares one per URI otherwise).
                self._client = MilvusClient(uri=self.uri, token=self._token or "", timeout=TIMEOUT_S, dedicated=True)
            return self._client

    def _attempt(self, call: Callable[[Any], T]) -> T:
        """``call`` on the connection; a collection a restarted server released is loaded and the call run
        again; any other failure but a passed deadline drops the connection, so that the next call connects
        again. A deadline says the server is slow, not that the connection is broken: the connection is
        every request's, and closing it would fail the calls other requests have in flight on it."""
        from pymilvus import MilvusException

        client = self._connected()
        try:
            try:
                return call(client)
            except MilvusException as exc:
                if not _not_loaded(exc):
                    raise
                client.load_collection(self._collection, timeout=TIMEOUT_S)
                return call(client)
        except _failures() as exc:
            if not _deadline_passed(exc):
                self._drop(client)
            raise

    def _unavailable(self, what: str, exc: BaseException) -> SearchUnavailable:
        log.warning("Milvus at %s could not %s: %s", self.uri, what, _message(exc))
        return SearchUnavailable(f"the search service (Milvus) could not {what}: {_message(exc)}")

    def _drop(self, client: Any) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        try:
            client.close()
        except Exception as exc:  # closing a broken connection may fail too: it is dropped all the same
            log.debug("closing the Milvus connection: %s", exc)


def _failures() -> tuple[type[BaseException], ...]:
    """What pymilvus raises when Milvus cannot serve a call: its own error, or gRPC's, which some of its
    paths (a deadline passed, a failed RPC) let through unwrapped."""
    import grpc
    from pymilvus import MilvusException

    return (MilvusException, grpc.RpcError, grpc.FutureTimeoutError)


def _deadline_passed(exc: BaseException) -> bool:
    """A call that ran out of time (``TIMEOUT_S``), as gRPC or pymilvus reports it."""
    import grpc

    if isinstance(exc, grpc.FutureTimeoutError):
        return True
    code = getattr(exc, "code", None)
    if callable(code) and code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return True
    return "deadline exceeded" in _message(exc).lower()


def _message(exc: BaseException) -> str:
    """One line: pymilvus's message, or gRPC's status and details (its own text spans several lines)."""
    code, details = getattr(exc, "code", None), getattr(exc, "details", None)
    if callable(code) and callable(details):
        return f"{getattr(code(), 'name', code())}: {details()}"
    return str(getattr(exc, "message", None) or exc)


def _not_loaded(exc: Exception) -> bool:
    """Milvus's "collection not loaded" (code 101), as milvus-lite says it after a restart."""
    message = str(getattr(exc, "message", exc)).lower()
    return getattr(exc, "code", None) == 101 or "not loaded" in message or "released" in message
