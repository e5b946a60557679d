"""Every row of troly's tables from one database into another whose tables are empty (``troly migrate``:
an embedded data directory's SQLite into cluster mode's PostgreSQL; app.service.cluster_migration).

The copy is one transaction on the target, all or nothing, read from one transaction on the source (one
state of it). Rows keep every value, their integer keys included: the search indexes know a passage by
its key, and so does a Milvus collection filled from the copy. PostgreSQL's sequences are then moved past
the keys copied, and past any key SQLite ever handed out (its ``sqlite_sequence``, which remembers keys of
rows deleted since), so that the target never gives out a key the source already used.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.errors import MigrationTargetNotEmpty
from app.store.database import Database
from app.store.schema import meta, metadata

BATCH = 1000  # rows per INSERT: a few MB of passages at most


@dataclass(frozen=True)
class Copied:
    """What ``copy_tables`` wrote: rows per table, in the order they were copied (parents first)."""

    rows: dict[str, int]


def row_counts(database: Database, leave_out_meta: Collection[str] = ()) -> dict[str, int]:
    """Rows in each of troly's tables that ``database`` has (a table it lacks is not listed), leaving
    out the ``meta`` rows whose keys are named."""
    with database.read() as conn:
        return _counts(conn, leave_out_meta)


def refuse_unless_empty(counts: dict[str, int], what: str) -> None:
    """Raises ``MigrationTargetNotEmpty`` naming what ``what`` (a database, said with its password
    hidden) holds, unless every count is zero."""
    held = [f"{n} in {table}" for table, n in counts.items() if n]
    if held:
        raise MigrationTargetNotEmpty(
            f"{what} already holds troly's data (rows: {', '.join(held)}): the copy goes into an empty database "
            "only, so that two knowledge bases are never mixed; give a new database (or one without troly's "
            "tables); nothing was written"
        )


def _counts(conn: Connection, leave_out_meta: Collection[str]) -> dict[str, int]:
    present = set(sa.inspect(conn).get_table_names())
    counted = (
        (table.name, sa.select(sa.func.count()).select_from(_kept(table, leave_out_meta).subquery()))
        for table in metadata.sorted_tables
        if table.name in present
    )
    return {name: int(conn.scalar(query) or 0) for name, query in counted}


def _kept(table: sa.Table, leave_out_meta: Collection[str]) -> sa.Select[tuple[object, ...]]:
    """The rows of ``table`` that are copied: all, less the left-out meta rows."""
    query = sa.select(table)
    if table is meta and leave_out_meta:
        query = query.where(meta.c.key.not_in(list(leave_out_meta)))
    return query


def copy_tables(
    source: Database,
    target: Database,
    leave_out_meta: Collection[str] = (),
    progress: Callable[[int], None] = lambda rows: None,
) -> Copied:
    """Copies every row of troly's tables from ``source`` into ``target`` (PostgreSQL, its schema at the
    head), except the ``meta`` rows named in ``leave_out_meta``; ``progress`` gets each batch's size.

    Raises ``MigrationTargetNotEmpty`` with nothing written when the target's tables hold rows, checked
    inside the copy's transaction once they are locked against other writers (a check before the copy
    may be out of date by then: a replica started meanwhile)."""
    if target.dialect != "postgresql":
        raise ValueError(f"the copy's target is PostgreSQL, not {target.dialect}")
    tables = metadata.sorted_tables
    with source.read() as reading, target.write() as writing:
        # Readers go on; writers wait for the copy's commit (EXCLUSIVE conflicts with every write lock).
        names = ", ".join(writing.dialect.identifier_preparer.format_table(t) for t in tables)
        writing.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        refuse_unless_empty(_counts(writing, ()), f"the database {target.redacted_url}")
        rows: dict[str, int] = {}
        for table in tables:
            rows[table.name] = 0
            rows_of = _kept(table, leave_out_meta).order_by(*table.primary_key.columns)
            result = reading.execution_options(yield_per=BATCH).execute(rows_of)
            for batch in result.partitions():
                writing.execute(sa.insert(table), [dict(row._mapping) for row in batch])
                rows[table.name] += len(batch)
                progress(len(batch))
        issued = _sqlite_sequence(reading)
        for table in tables:
            column = table.autoincrement_column
            if column is not None:
                _move_sequence(writing, table, column, issued.get(table.name, 0))
    return Copied(rows)


def _sqlite_sequence(conn: Connection) -> dict[str, int]:
    """The largest key SQLite's AUTOINCREMENT has handed out per table (deleted rows' keys included)."""
    if conn.dialect.name != "sqlite":
        return {}
    # SQLite creates the table with the first AUTOINCREMENT table (SQLAlchemy's inspector hides it).
    if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first() is None:
        return {}
    return {str(name): int(seq) for name, seq in conn.exec_driver_sql("SELECT name, seq FROM sqlite_sequence")}


def _move_sequence(conn: Connection, table: sa.Table, column: sa.Column[int], issued: int) -> None:
    """The column's sequence past both the largest key copied and ``issued``: its next value is the next key."""
    largest = sa.select(sa.func.coalesce(sa.func.max(column), 0)).scalar_subquery()
    following = sa.func.greatest(largest, issued) + 1
    conn.execute(sa.select(sa.func.setval(sa.func.pg_get_serial_sequence(table.name, column.name), following, False)))
