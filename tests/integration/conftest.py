"""Real servers the integration tests share: one PostgreSQL per test session (postgres_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres_server import PostgresServer, start


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session; ``postgres.new_database()`` gives each test an empty database."""
    server = start()
    try:
        yield server
    finally:
        server.stop()
