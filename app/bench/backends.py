"""The search backends ``troly bench --backend`` compares, and where their state lives.

* ``embedded``: FAISS and BM25 in the service's process (the default);
* ``milvus``: one Milvus collection, new for every measurement (``troly_bench_<pid>_<what>``), on the
  Milvus at ``--milvus-uri``, else on a milvus-lite server the bench starts for that measurement alone
  (``app.bench.milvus_lite``), so that its memory is that measurement's. Collections made on a given
  Milvus are dropped afterwards: the bench leaves that server as it found it.

The relational state (units, documents, passages and their vectors, the activity log) is each data
directory's SQLite, or with ``--database-url`` a database of its own per store on that PostgreSQL server
(created by the bench, dropped at the end: the URL's role needs the right to create databases).
No password or token is written to the report, the logs or a command line.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from app.bench import milvus_lite
from app.bench.common import log
from app.bench.load import rss_mb

BACKENDS = ("embedded", "milvus")
# Parts that measure the embedded backend's own machinery, run once whatever else is compared.
EMBEDDED_ONLY = {
    "scale": "FAISS indexes alone, in a process of their own: the embedded backend's",
    "profile": "py-spy over the embedded server",
    "stages": "the core's stages timed in-process over the embedded indexes",
}
COLLECTION_PREFIX = "troly_bench_"


def parse_backends(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(b.strip() for b in text.split(",") if b.strip()))
    unknown = [b for b in names if b not in BACKENDS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown search backend {', '.join(map(repr, unknown)) or repr(text)}: give {' or '.join(BACKENDS)}, "
            "or both separated by a comma (embedded,milvus)",
            param_hint="'--backend'",
        )
    return names


class Databases:
    """Where each store the bench builds lives: a data directory's SQLite (no ``--database-url``), or a
    database of its own on the PostgreSQL server the URL names, one per label (``unit_100000``...)."""

    def __init__(self, server_url: str | None, tag: str) -> None:
        self._server = server_url
        self._tag = tag
        self._made: dict[str, str] = {}  # label -> database name

    @property
    def postgres(self) -> bool:
        return self._server is not None

    def describe(self) -> str:
        if self._server is None:
            return "SQLite: each unit's data directory (troly.sqlite3), the embedded default"
        return (
            f"PostgreSQL {self._server_version()} at {self._redacted()}: a database of its own per unit size "
            f"(`{COLLECTION_PREFIX}{self._tag}_unit_<size>`), created by the bench and dropped at the end"
        )

    def check(self) -> None:
        """Refuses a URL that is not PostgreSQL, an unreachable server, or a role that cannot create
        databases, before anything is measured."""
        if self._server is None:
            return
        from app.errors import DatabaseUrlInvalid
        from app.store.database import parse_url

        try:
            url = parse_url(self._server)
        except DatabaseUrlInvalid as exc:
            raise click.BadParameter(str(exc), param_hint="'--database-url'") from None
        if url.get_backend_name() != "postgresql":
            raise click.BadParameter(
                "takes a PostgreSQL server's URL (postgresql://user:password@host:5432/database); without it each "
                "unit's data directory keeps its own SQLite",
                param_hint="'--database-url'",
            )
        try:
            with self._admin() as conn:
                allowed = conn.exec_driver_sql(
                    "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
                ).scalar()
        except Exception as exc:  # any driver error: said plainly, without the URL's password
            raise click.BadParameter(
                f"cannot connect to {self._redacted()}: {exc}", param_hint="'--database-url'"
            ) from None
        if not allowed:
            raise click.BadParameter(
                f"the role of {self._redacted()} may not create databases; the bench makes one per unit size "
                "(ALTER ROLE … CREATEDB)",
                param_hint="'--database-url'",
            )

    def url(self, data_dir: Path, label: str) -> str:
        """The store's URL: ``data_dir``'s SQLite, or a new database on the server (made at the first call)."""
        if self._server is None:
            from app.store.database import sqlite_url

            return sqlite_url(data_dir / "troly.sqlite3")
        if label not in self._made:
            name = f"{COLLECTION_PREFIX}{self._tag}_{label}"
            with self._admin() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            self._made[label] = name
        return self._database_url(self._made[label])

    def disk_bytes(self, label: str) -> int | None:
        """The PostgreSQL database's size on disk (None for SQLite: its file is in the data directory)."""
        name = self._made.get(label)
        if name is None:
            return None
        with self._admin() as conn:
            size = conn.exec_driver_sql("SELECT pg_database_size(%(name)s)", {"name": name}).scalar()
        return int(size) if size is not None else None

    def drop_all(self) -> None:
        """Drops every database the bench made (WITH (FORCE): a server it started may still hold a connection)."""
        made, self._made = self._made, {}
        if not made:
            return
        with self._admin() as conn:
            for name in made.values():
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _database_url(self, name: str) -> str:
        from app.store.database import parse_url

        assert self._server is not None
        return parse_url(self._server).set(database=name).render_as_string(hide_password=False)

    def _redacted(self) -> str:
        from app.store.database import parse_url, redacted

        assert self._server is not None
        return redacted(parse_url(self._server))

    def _server_version(self) -> str:
        with self._admin() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())

    @contextlib.contextmanager
    def _admin(self) -> Iterator[Any]:
        """A connection outside any transaction: CREATE and DROP DATABASE refuse to run in one."""
        import sqlalchemy as sa

        from app.store.database import parse_url

        assert self._server is not None
        engine = sa.create_engine(parse_url(self._server), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()


@dataclass(frozen=True)
class MilvusTarget:
    uri: str
    pid: int | None  # the milvus-lite server the bench started for this measurement; None: the given Milvus


@dataclass
class BenchBackends:
    """The backends compared, the Milvus they use and where the stores live, for the whole run."""

    names: tuple[str, ...]
    databases: Databases
    tag: str  # in the names of the collections and databases the bench makes: this run's own
    milvus_uri: str | None = None  # None: a milvus-lite per measurement
    milvus_token: str | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls, names: tuple[str, ...], milvus_uri: str | None, milvus_token: str | None, database_url: str | None
    ) -> BenchBackends:
        tag = str(os.getpid())
        return cls(names, Databases(database_url, tag), tag, milvus_uri, milvus_token)

    @property
    def embedded(self) -> bool:
        return "embedded" in self.names

    @property
    def milvus(self) -> bool:
        return "milvus" in self.names

    def check(self) -> None:
        """Everything the chosen backends need, checked before anything is measured."""
        if self.milvus and self.milvus_uri is None:
            milvus_lite.check_installed()
        if self.milvus:
            import importlib.util

            if importlib.util.find_spec("pymilvus") is None:
                raise click.UsageError("--backend milvus needs pymilvus: pip install -e '.[cluster]'")
        self.databases.check()

    def describe(self) -> dict[str, Any]:
        """What the report says about the backends (never a password or a token)."""
        out: dict[str, Any] = {
            "compared": list(self.names),
            "database_kind": "postgresql" if self.databases.postgres else "sqlite",
            "database": self.databases.describe(),
        }
        if self.milvus:
            if self.milvus_uri is None:
                out["milvus"] = (
                    f"milvus-lite {milvus_lite.version()} (Milvus's single-process server for development), started "
                    "by the bench on 127.0.0.1: a new server for every measurement (ingestion, each unit size)"
                )
            else:
                out["milvus"] = f"the Milvus at {self.milvus_uri} ({self._server_version(self.milvus_uri)})"
        out["embedded_only"] = EMBEDDED_ONLY
        return out

    def collection(self, label: str) -> str:
        return f"{COLLECTION_PREFIX}{self.tag}_{label}"

    @contextlib.contextmanager
    def milvus_server(self, folder: Path) -> Iterator[MilvusTarget]:
        """The given Milvus, or a new milvus-lite over ``folder`` that is stopped on leaving."""
        if self.milvus_uri is not None:
            yield MilvusTarget(self.milvus_uri, None)
            return
        with milvus_lite.running(folder) as server:
            log(f"  milvus-lite on {server.uri} (pid {server.pid})")
            yield MilvusTarget(server.uri, server.pid)

    def drop_collection(self, target: MilvusTarget, name: str) -> None:
        """Drops a collection the bench made on a given Milvus (a milvus-lite of its own goes with its folder)."""
        if target.pid is not None:
            return
        from app.search.milvus_connection import MilvusConnection

        connection = MilvusConnection(target.uri, self.milvus_token, name)
        try:
            connection.run("drop the bench's collection", lambda c: c.drop_collection(name))
        finally:
            connection.close()

    def server_env(self, backend: str, store_url: str, target: MilvusTarget | None, collection: str) -> dict[str, str]:
        """The service's settings for one backend (the bench's servers start with no TROLY_ variable of their
        own: app.bench.common.clean_env)."""
        env: dict[str, str] = {}
        if self.databases.postgres:
            env["TROLY_DATABASE_URL"] = store_url
        if backend == "milvus":
            assert target is not None
            env |= {"TROLY_SEARCH_BACKEND": "milvus", "TROLY_MILVUS_URI": target.uri}
            env["TROLY_MILVUS_COLLECTION"] = collection
            if self.milvus_token:
                env["TROLY_MILVUS_TOKEN"] = self.milvus_token
        return env

    def settings(
        self, backend: str, store_url: str | None, target: MilvusTarget | None, collection: str
    ) -> dict[str, Any]:
        """The same as ``Settings`` fields, for an assistant the bench opens in its own process."""
        values: dict[str, Any] = {"database_url": store_url if self.databases.postgres else None}
        if backend == "milvus":
            assert target is not None
            values |= {"search_backend": "milvus", "milvus_uri": target.uri, "milvus_collection": collection}
            values["milvus_token"] = self.milvus_token
        return values

    def fill(self, store_url: str, target: MilvusTarget, collection: str, dim: int, embedder: str) -> dict[str, Any]:
        """Time to fill a new collection from a store (``MilvusSearch.sync``, as a service's start does: the
        stored vectors and tokens, never re-embedded), and the milvus-lite server's memory around it."""
        from app.search.milvus import MilvusSearch
        from app.store import SqlDocumentStore

        rss_idle = rss_mb(target.pid) if target.pid else None
        store = SqlDocumentStore.open(store_url)
        try:
            started = time.perf_counter()
            search = MilvusSearch.open(target.uri, self.milvus_token, collection, dim, embedder)
            try:
                created = time.perf_counter() - started
                started = time.perf_counter()
                report = search.sync(store)
                seconds = time.perf_counter() - started
                held = search.passage_count()
            finally:
                search.close()
        finally:
            store.close()
        if held != report.inserted:
            raise click.ClickException(f"Milvus holds {held} passages after writing {report.inserted}")
        log(f"  filled Milvus from the store: {report.inserted} passages in {seconds:.1f} s")
        return {
            "collection": collection,
            "create_s": round(created, 2),
            "fill_s": round(seconds, 2),
            "passages": report.inserted,
            "passages_per_s": round(report.inserted / seconds, 1) if seconds > 0 else None,
            "milvus_rss_mb_idle": rss_idle,
            "milvus_rss_mb_after_fill": rss_mb(target.pid) if target.pid else None,
        }

    def _server_version(self, uri: str) -> str:
        from app.search.milvus_connection import MilvusConnection

        connection = MilvusConnection(uri, self.milvus_token, "")
        try:
            return str(connection.run("read the server's version", lambda c: c.get_server_version()))
        finally:
            connection.close()
