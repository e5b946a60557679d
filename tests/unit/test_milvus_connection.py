"""MilvusConnection's handling of failures, on a fake client (no server): a passed deadline fails the
request but keeps the connection that every request shares; a broken connection is dropped, closed and
replaced by the next call."""

from __future__ import annotations

from typing import Any, ClassVar

import grpc
import pymilvus
import pytest

from app.errors import SearchUnavailable
from app.search.milvus_connection import MilvusConnection


class _RpcError(grpc.RpcError):
    def __init__(self, status: grpc.StatusCode) -> None:
        self._status = status

    def code(self) -> grpc.StatusCode:
        return self._status

    def details(self) -> str:
        return self._status.name.lower()


class _FakeClient:
    made: ClassVar[list[_FakeClient]] = []

    def __init__(self, **_: Any) -> None:
        self.closed = False
        _FakeClient.made.append(self)

    def close(self) -> None:
        self.closed = True


@pytest.fixture()
def connection(monkeypatch: pytest.MonkeyPatch) -> MilvusConnection:
    _FakeClient.made = []
    monkeypatch.setattr(pymilvus, "MilvusClient", _FakeClient)
    return MilvusConnection("http://milvus:19530", None, "troly_passages")


def _raise(error: BaseException) -> Any:
    def call(client: Any) -> Any:
        raise error

    return call


def test_a_passed_deadline_keeps_the_shared_connection(connection: MilvusConnection) -> None:
    assert connection.run("warm up", lambda client: client) is _FakeClient.made[0]

    with pytest.raises(SearchUnavailable, match="could not count passages: DEADLINE_EXCEEDED"):
        connection.run("count passages", _raise(_RpcError(grpc.StatusCode.DEADLINE_EXCEEDED)))

    assert len(_FakeClient.made) == 1 and not _FakeClient.made[0].closed  # other requests' calls go on
    assert connection.run("search", lambda client: client) is _FakeClient.made[0]


def test_a_broken_connection_is_closed_and_replaced(connection: MilvusConnection) -> None:
    calls: list[Any] = []

    def fails_once(client: Any) -> Any:
        calls.append(client)
        if len(calls) == 1:
            raise _RpcError(grpc.StatusCode.UNAVAILABLE)
        return client

    assert connection.run("search", fails_once) is _FakeClient.made[1]  # tried again on a new connection
    assert _FakeClient.made[0].closed and not _FakeClient.made[1].closed
