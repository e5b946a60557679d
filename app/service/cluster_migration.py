"""Moving an embedded data directory into cluster mode (``troly migrate``; docs/deploy.md, *Moving an
embedded data directory into a cluster*).

The source is the data directory's knowledge base (its ``troly.sqlite3``, or the SQLite file
TROLY_DATABASE_URL names), held under the data directory's lock for the whole copy: a service running on
it makes the command refuse (``DataDirInUse``), and none can start meanwhile. It is brought to this
release's schema first, as any start does (0.1.0's separate files included).

In order, each step only once the ones before it succeeded:

1. the target PostgreSQL database must hold none of troly's rows, and the Milvus collection (created if
   missing) no passage: otherwise ``MigrationTargetNotEmpty``, with nothing written to either;
2. the target's schema is brought to the head, then every table is copied in one transaction
   (app.store.database_copy), keys included, and PostgreSQL's sequences moved past them;
3. the collection is filled from the copy by the Milvus backend's own ``sync``, from the stored vectors
   and tokens: nothing is embedded again, and no model is loaded;
4. the copy is checked: each table's rows, and each unit's passages in Milvus, against the source.

The store's ``meta`` rows go along (the embedder's name, which the replicas check), except the record
of the Milvus collection an embedded store was once synced into: the target's is written by step 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from app.errors import (
    DatabaseUnavailable,
    DatabaseUrlInvalid,
    InvalidInput,
    MigrationFailed,
    MigrationTargetNotEmpty,
    NotFound,
    TrolyError,
)
from app.search.milvus import SYNCED_META, MilvusSearch
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.data_dir_lock import DataDirLock
from app.store.database import Database, parse_url, redacted
from app.store.database_copy import copy_tables, refuse_unless_empty, row_counts
from app.store.migrate import upgrade
from app.store.schema import metadata, passages

T = TypeVar("T")


@dataclass(frozen=True)
class ClusterTarget:
    """Where the knowledge base goes: a PostgreSQL database and a Milvus server."""

    database_url: str
    milvus_uri: str
    milvus_token: str | None = None


@dataclass(frozen=True)
class MigrationReport:
    source: str  # the source database's URL
    database: str  # the target's, its password hidden
    milvus_uri: str
    collection: str
    tables: dict[str, int]  # rows copied per table, parents first
    units: int
    documents: int
    passages: int
    seconds: float


@dataclass(frozen=True)
class Progress:
    """What the command line shows while the copy runs: ``step`` says each step, ``rows`` gets each batch
    of rows copied (out of ``total``, given once before the copy)."""

    step: Callable[[str], None] = lambda text: None
    total: Callable[[int], None] = lambda rows: None
    rows: Callable[[int], None] = lambda rows: None


def migrate_to_cluster(
    settings: Settings, target: ClusterTarget, open_source: Callable[[Settings], Database], progress: Progress
) -> MigrationReport:
    """Copies the data directory's knowledge base into ``target`` (see the module's docstring).

    ``open_source``: opens the settings' database at this release's schema (``app.wiring.open_database``).
    Raises ``DatabaseUrlInvalid``, ``InvalidInput``, ``NotFound``, ``DataDirInUse``, ``DatabaseUnavailable``
    and ``MigrationTargetNotEmpty`` before anything is written; ``MigrationFailed`` when the copy fails
    (nothing written) or when Milvus cannot be filled or the copy does not match its source."""
    started = time.monotonic()
    target_url = _target_url(target.database_url)
    _refuse_unless_embedded(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # open_assistant's way: a lock needs its folder
    with DataDirLock.acquire(settings.data_dir):
        source = open_source(settings)
        try:
            embedder, dim = _embedder(source)
            copy = Database.open(target_url)
            try:
                return _migrate(settings, target, source, copy, embedder, dim, progress, started)
            finally:
                copy.close()
        finally:
            source.close()


def _migrate(
    settings: Settings,
    target: ClusterTarget,
    source: Database,
    copy: Database,
    embedder: str,
    dim: int,
    progress: Progress,
    started: float,
) -> MigrationReport:
    where = f"the database {copy.redacted_url}"
    progress.step(f"checking that {where} and the Milvus collection {settings.milvus_collection} are empty")
    refuse_unless_empty(_reached(copy, lambda: row_counts(copy)), where)
    name = settings.milvus_collection
    search = MilvusSearch.open(target.milvus_uri, target.milvus_token, name, dim, embedder)
    try:
        if held := search.passage_count():
            raise MigrationTargetNotEmpty(
                f"the Milvus collection {name} at {target.milvus_uri} already holds {held} passages: the copy goes "
                "into an empty (or new) collection only; name another with TROLY_MILVUS_COLLECTION, or drop this "
                "one if it is a leftover; nothing was written"
            )
        rows = sum(row_counts(source, [SYNCED_META]).values())
        progress.step(f"copying {len(metadata.sorted_tables)} tables ({rows} rows) into {where}")
        progress.total(rows)
        _reached(copy, lambda: upgrade(copy))
        try:
            copied = copy_tables(source, copy, [SYNCED_META], progress.rows)
        except sa.exc.DBAPIError as exc:
            reason = " ".join(str(exc.orig).split())  # PostgreSQL's DETAIL on the same line: one error line
            raise MigrationFailed(
                f"the copy into {where} failed ({reason}); nothing was written: the copy is one transaction"
            ) from exc
        store = SqlDocumentStore(copy)
        progress.step(f"writing {copied.rows['passages']} passages into the Milvus collection {name} (not re-embedded)")
        try:
            search.sync(store)
        except TrolyError as exc:
            raise MigrationFailed(
                f"{where} holds the copy, but writing its passages into the Milvus collection {name} failed "
                f"({exc.message}); a replica fills the collection from the database when it starts (from the "
                "stored vectors), so start one once Milvus answers"
            ) from exc
        progress.step("checking the copy against the source")
        # The source counted again: a write that reached it during the copy (``troly keys`` takes no lock)
        # shows as a difference instead of being lost without a word.
        _verify(row_counts(source, [SYNCED_META]), row_counts(copy, [SYNCED_META]), copy, search, where)
    finally:
        search.close()
    return MigrationReport(
        source=redacted(source.url),
        database=copy.redacted_url,
        milvus_uri=target.milvus_uri,
        collection=name,
        tables=copied.rows,
        units=copied.rows["units"],
        documents=copied.rows["documents"],
        passages=copied.rows["passages"],
        seconds=time.monotonic() - started,
    )


def _target_url(raw: str) -> str:
    """``raw``, checked to be a PostgreSQL URL (the parser's messages name the setting: here, the option)."""
    try:
        url = parse_url(raw)
    except DatabaseUrlInvalid as exc:
        raise DatabaseUrlInvalid(exc.message.replace("TROLY_DATABASE_URL", "--to-database-url")) from None
    if url.get_backend_name() != "postgresql":
        raise InvalidInput(
            f"--to-database-url {redacted(url)} is a SQLite file: cluster mode keeps its knowledge base in "
            "PostgreSQL, which every replica shares; give postgresql://user:password@host:5432/database; "
            "nothing was written"
        )
    return raw


def _refuse_unless_embedded(settings: Settings) -> None:
    """The source is SQLite, and there: a data directory without a knowledge base has nothing to move."""
    url = parse_url(settings.db_url)
    if url.get_backend_name() != "sqlite":
        raise InvalidInput(
            f"this knowledge base is already in {redacted(url)} (TROLY_DATABASE_URL): troly migrate moves an "
            "embedded data directory's SQLite into a cluster; unset TROLY_DATABASE_URL to migrate the data "
            "directory's own; nothing was written"
        )
    if not Path(url.database or "").is_file():
        raise NotFound(
            f"no knowledge base at {url.database}: nothing to migrate (is TROLY_DATA_DIR right?); nothing was written"
        )


def _embedder(source: Database) -> tuple[str, int]:
    """The embedder that filled the source and its dimension: the Milvus collection is made for them."""
    store = SqlDocumentStore(source)
    embedder, dim = store.get_meta("embedder"), store.get_meta("dim")
    if embedder is None or dim is None:
        raise NotFound(
            f"the knowledge base {redacted(source.url)} records no embedder: no document was ever added to it, "
            "so there is nothing to migrate (a cluster starts empty by itself); nothing was written"
        )
    return embedder, int(dim)


def _reached(database: Database, call: Callable[[], T]) -> T:
    """``call``, its connection failures said as ``DatabaseUnavailable``, naming the database."""
    try:
        return call()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise DatabaseUnavailable(f"cannot use the database {database.redacted_url}: {exc.orig}") from exc


def _verify(
    source: dict[str, int], copied: dict[str, int], database: Database, search: MilvusSearch, where: str
) -> None:
    """Every table's rows as the source's, and each unit's passages in the collection as the copy's."""
    differ = [f"{t}: {n} rows in the source, {copied[t]} in the copy" for t, n in source.items() if n != copied[t]]
    per_unit = sa.select(passages.c.unit, sa.func.count()).group_by(passages.c.unit)
    with database.read() as conn:
        stored = {str(unit): int(count) for unit, count in conn.execute(per_unit)}
    for unit, count in sorted(stored.items()):
        held = search.passage_count([unit])
        if held != count:
            differ.append(f"unit {unit}: {count} passages stored, {held} in Milvus")
    if (total := search.passage_count()) != sum(stored.values()):
        differ.append(f"{sum(stored.values())} passages stored, {total} in Milvus")
    if differ:
        raise MigrationFailed(
            f"the copy in {where} does not match its source ({'; '.join(differ)}): do not switch to it; drop the "
            "database and the Milvus collection, and run troly migrate again once nothing writes to the source"
        )
