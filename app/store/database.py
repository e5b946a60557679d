"""One SQLAlchemy engine per database: the SQLite file in the data directory (the embedded default) or
PostgreSQL (cluster mode, several replicas on one database), each with the connection settings it needs.

``TROLY_DATABASE_URL`` (``Settings.database_url``) names it; unset, ``sqlite:///<data dir>/troly.sqlite3``.
Accepted: ``sqlite:///path`` and ``postgresql://…`` (``postgres://`` and ``postgresql+psycopg://`` too),
which always goes through psycopg 3, the driver the ``cluster`` extra installs. Anything else is refused
at start with ``DatabaseUrlInvalid``. A URL is only ever shown with its password hidden (``redacted``).

Every store living in one database shares its ``Database`` (one engine, one pool, one schema history:
app.store.migrate); whoever opens it closes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError

from app.errors import DatabaseUnavailable, DatabaseUrlInvalid
from app.store.sqlite_connect import BUSY_TIMEOUT_S, apply_pragmas

POSTGRES_DRIVER = "postgresql+psycopg"
# A PostgreSQL server that does not answer within this is reported at start, not waited on forever.
CONNECT_TIMEOUT_S = 10
# Set on a connection whose transaction will write: SQLite then takes the write lock at BEGIN.
_WRITE = "troly_write"
_FORMS = "sqlite:///path/to/troly.sqlite3 or postgresql://user:password@host:5432/database"


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file (the data directory's ``troly.sqlite3`` by default, as
    ``Settings.db_url`` spells it)."""
    return f"sqlite:///{path}"


def redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def parse_url(raw: str) -> URL:
    """``raw`` as a URL troly can open, PostgreSQL's always with the psycopg 3 driver.

    Raises ``DatabaseUrlInvalid``; its message never holds a password (an unparsable string is not
    repeated at all: it may be a password pasted in the wrong place)."""
    try:
        url = sa.make_url(raw.strip())
    except ArgumentError:
        raise DatabaseUrlInvalid(f"TROLY_DATABASE_URL is not a database URL: give {_FORMS}") from None
    backend, driver = url.get_backend_name(), url.drivername.partition("+")[2]
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise DatabaseUrlInvalid(
                f"TROLY_DATABASE_URL {redacted(url)} names the driver {driver!r}: troly reaches PostgreSQL through "
                "psycopg 3 only; write postgresql://… (or postgresql+psycopg://…)"
            )
        return url.set(drivername=POSTGRES_DRIVER)
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise DatabaseUrlInvalid(f"TROLY_DATABASE_URL {redacted(url)}: SQLite is opened with Python's sqlite3")
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise DatabaseUrlInvalid(
                f"TROLY_DATABASE_URL {redacted(url)} names no SQLite file (an in-memory database would vanish "
                "with the process): give sqlite:///path/to/troly.sqlite3"
            )
        return url.set(drivername="sqlite")
    raise DatabaseUrlInvalid(
        f"TROLY_DATABASE_URL {redacted(url)} is a {backend} database: troly stores its knowledge base in SQLite "
        f"(the default, in the data directory) or PostgreSQL (cluster mode): give {_FORMS}"
    )


class Database:
    """An engine and the transactions the stores run on it: ``read()`` and ``write()``, one each per call."""

    def __init__(self, url: URL, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    @classmethod
    def open(cls, raw_url: str) -> Database:
        """The engine for ``raw_url`` (nothing is connected yet: app.store.migrate does that at start)."""
        url = parse_url(raw_url)
        if url.get_backend_name() == "sqlite":
            return cls(url, _sqlite_engine(url))
        return cls(url, _postgres_engine(url))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @property
    def redacted_url(self) -> str:
        return redacted(self.url)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One transaction that only reads: one consistent state of the database, rolled back at the end."""
        with self._unavailable_as_domain_error(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction, committed when the block ends and rolled back if it raises: all or nothing.
        On SQLite it holds the write lock from its first statement (other writers wait for the busy
        timeout instead of failing on a lock upgrade); on PostgreSQL writers run side by side."""
        with self._unavailable_as_domain_error(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _unavailable_as_domain_error(self) -> Iterator[None]:
        """A PostgreSQL server that is down, restarting or unreachable: ``DatabaseUnavailable`` (HTTP 503,
        retried by the client) instead of the driver's error. The pool's pre-ping replaces the dead
        connections on the next call, so the service recovers with the server. SQLite's errors are a
        local file's, not an outage: they stay what they are."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            if self.dialect == "sqlite":
                raise
            raise DatabaseUnavailable(f"cannot use the database {self.redacted_url}: {exc.orig}") from exc

    def close(self) -> None:
        """Closes the pooled connections (the engine opens new ones if it is used again)."""
        self.engine.dispose()


def _sqlite_engine(url: URL) -> Engine:
    assert url.database is not None
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
        # The service answers on a thread pool: a thread never waits for a pooled connection (SQLite
        # connections are cheap, and its own locks order the writers).
        pool_size=8,
        max_overflow=-1,
    )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # sqlite3's own transaction handling would BEGIN only before DML; SQLAlchemy's begin event below
        # does it instead, so a read sees one state and DDL (the migrations) is transactional.
        dbapi_connection.isolation_level = None
        apply_pragmas(dbapi_connection)

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def _postgres_engine(url: URL) -> Engine:
    try:
        import psycopg  # noqa: F401  (the cluster extra's: checked here so that its absence is said plainly)
    except ImportError as exc:
        raise DatabaseUrlInvalid(
            f"TROLY_DATABASE_URL {redacted(url)} is PostgreSQL, which needs psycopg 3: pip install 'troly[cluster]'"
        ) from exc
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
    # pre_ping: a replica's pooled connection may have been closed by a database restart or failover.
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True, pool_size=5, max_overflow=10)
