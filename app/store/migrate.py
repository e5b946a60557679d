"""Bringing a database's schema to this release's head at start (Alembic, app/store/migrations).

* An empty database gets every revision, in one transaction.
* A database made by troly 0.1.0 (its tables, no ``alembic_version``) is stamped at 0001, the schema that
  release created, and upgraded from there: a data directory upgrades in place.
* A database at the head is left alone; one at an older revision is upgraded.
* A database at a revision this release does not know (a newer troly upgraded it) is refused with
  ``DatabaseTooNew`` and nothing changed; so is one holding only some of troly's tables.

The check and the upgrade are one transaction, so that replicas starting together upgrade once: on
PostgreSQL a transaction-level advisory lock makes the others wait and then find the head (the lock goes
with the commit); on SQLite the transaction's write lock does the same.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from app.errors import DatabaseTooNew, DatabaseUnavailable, DatabaseUnrecognised
from app.store.database import Database

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# The revision whose schema troly 0.1.0 created without Alembic, and that schema's tables.
BEFORE_ALEMBIC = "0001"
BEFORE_ALEMBIC_TABLES = frozenset({"meta", "units", "documents", "passages"})
# pg_advisory_xact_lock's key for schema changes: any constant, the same in every release.
ADVISORY_LOCK_KEY = 0x7472_6F6C_7953  # "trolyS"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS}"
    return head


def current_revision(database: Database) -> str | None:
    """The revision ``alembic_version`` records (None: none, e.g. a database made before Alembic)."""
    with database.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_upgraded(url: str) -> Database:
    """The database at ``url``, its schema brought to the head (``upgrade``); closed again if that fails."""
    database = Database.open(url)
    try:
        upgrade(database)
    except BaseException:
        database.close()
        raise
    return database


def upgrade(database: Database) -> str:
    """Brings ``database`` to the head revision (see the module's docstring) and returns it.

    Raises ``DatabaseTooNew``, ``DatabaseUnrecognised``, or ``DatabaseUnavailable`` when it cannot be
    reached; nothing is changed in any of these cases."""
    script = script_directory()
    head = head_revision()
    try:
        with database.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
            current = _current(conn, script, database)
            if current == head:
                return head
            log.info("upgrading the schema of %s from %s to %s", database.redacted_url, current or "nothing", head)
            command.upgrade(alembic_config(conn), "head")
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise DatabaseUnavailable(f"cannot use the database {database.redacted_url}: {exc.orig}") from exc
    return head


def _current(conn: Connection, script: ScriptDirectory, database: Database) -> str | None:
    """The database's revision, a 0.1.0 database stamped at BEFORE_ALEMBIC first."""
    context = MigrationContext.configure(conn)
    current = context.get_current_revision()
    if current is None:
        present = BEFORE_ALEMBIC_TABLES & set(sa.inspect(conn).get_table_names())
        if present == BEFORE_ALEMBIC_TABLES:
            context.stamp(script, BEFORE_ALEMBIC)
            return BEFORE_ALEMBIC
        if present:
            raise DatabaseUnrecognised(
                f"the database {database.redacted_url} holds some of troly's tables ({', '.join(sorted(present))}) "
                "but not all, and no schema version: it is not a knowledge base troly made; nothing was changed"
            )
        return None
    known = {r.revision for r in script.walk_revisions()}
    if current not in known:
        raise DatabaseTooNew(
            f"the database {database.redacted_url} is at schema revision {current!r}, which this troly does not "
            f"know (its newest is {head_revision()!r}): a newer release upgraded it; run that release or a newer "
            "one against it; nothing was changed"
        )
    return current
