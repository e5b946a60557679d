"""The document store's contract (app.store.base.DocumentStore), run against SQLite and a real PostgreSQL:
both backends keep the same units, documents, passages, vectors and keys, and refuse the same things."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from postgres_server import PostgresServer

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.domain import Document, DocumentInput, Passage, Unit
from app.errors import Conflict, UnitExists
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.base import ContentStored
from app.store.database import sqlite_url
from app.store.migrate import current_revision, head_revision
from app.store.schema import metadata, token_counts

UNIT = "cuc-viet-thong"
OTHER = "cuc-buu-dien"
Opener = Callable[[], SqlDocumentStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one new database of the backend: each call is another process's (replica's) view."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "data" / "troly.sqlite3")
    else:
        url = request.getfixturevalue("postgres").new_database()
    opened: list[SqlDocumentStore] = []

    def open_() -> SqlDocumentStore:
        opened.append(SqlDocumentStore.open(url))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture()
def store(open_store: Opener) -> SqlDocumentStore:
    s = open_store()
    s.add_unit(Unit(UNIT, "Cục Viễn thông"))
    return s


def _document(unit: str, doc_id: str, texts: list[str], content_hash: str | None = None) -> Document:
    return Document(
        id=doc_id,
        unit=unit,
        title=f"Tài liệu {doc_id}",
        text="\n\n".join(texts),
        date="2024-07",
        source=f"{doc_id}.txt",
        content_hash=content_hash or f"hash-{doc_id}",
        passages=len(texts),
        created_at="2024-07-15T00:00:00+00:00",
    )


def _passages(document: Document, texts: list[str]) -> list[Passage]:
    out, start = [], 0
    for seq, t in enumerate(texts):
        out.append(Passage(f"{document.id}-p{seq}", document.id, document.unit, seq, start, start + len(t), t))
        start += len(t) + 2
    return out


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _add(store: SqlDocumentStore, doc_id: str, texts: list[str], unit: str = UNIT, seed: int = 0) -> Any:
    document = _document(unit, doc_id, texts)
    passages = _passages(document, texts)
    tokens = [t.lower().split() for t in texts]
    vectors = _vectors(len(texts), seed=seed)
    keys = store.add_document(document, passages, tokens, vectors)
    return document, passages, tokens, vectors, keys


def test_the_schema_is_at_the_head_and_matches_the_tables_the_store_uses(store: SqlDocumentStore) -> None:
    assert current_revision(store.database) == head_revision()
    with store.database.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    # 0001 keeps 0.1.0's primary keys, which SQLite lets hold NULL (troly never writes one); schema.py
    # declares them NOT NULL, as PostgreSQL makes every primary key.
    primary = {(t.name, c.name) for t in metadata.tables.values() for c in t.primary_key.columns}
    relevant = [
        d
        for d in differences
        if not (isinstance(d, list) and d[0][0] == "modify_nullable" and (d[0][2], d[0][3]) in primary)
    ]
    assert relevant == []


def test_units_are_stored_and_a_duplicate_is_refused(store: SqlDocumentStore) -> None:
    assert store.get_unit(UNIT) == Unit(UNIT, "Cục Viễn thông")
    assert store.get_unit("khong-co") is None
    with pytest.raises(UnitExists):
        store.add_unit(Unit(UNIT, "Tên khác"))
    assert store.list_units() == [Unit(UNIT, "Cục Viễn thông")]
    store.add_unit(Unit("bo-tttt", "Bộ TT&TT"))
    assert [u.id for u in store.list_units()] == ["bo-tttt", UNIT]


def test_meta_roundtrip(store: SqlDocumentStore) -> None:
    assert store.get_meta("embedder") is None
    store.set_meta("embedder", "fake")
    store.set_meta("embedder", "fake-2")
    assert store.get_meta("embedder") == "fake-2"


def test_add_document_stores_passages_and_vectors_and_returns_keys(store: SqlDocumentStore) -> None:
    document, passages, _, vectors, keys = _add(store, "d1", ["SIM rác viễn thông", "tắt sóng 2G", "mạng 5G"])
    assert len(keys) == 3 and len(set(keys)) == 3
    assert store.get_document(UNIT, "d1") == document
    assert store.find_document(UNIT, "hash-d1") == document
    assert store.find_document(UNIT, "hash-khac") is None
    assert store.get_document("bo-tttt", "d1") is None  # documents belong to their unit
    assert store.list_documents(UNIT) == [document]
    stored = store.passages([*reversed(keys), 999_999])
    assert [s.key for s in stored] == list(reversed(keys))  # order given, unknown keys skipped
    assert [s.passage for s in stored] == list(reversed(passages))
    assert all(s.title == document.title and s.date == "2024-07" for s in stored)
    np.testing.assert_array_equal(np.vstack([s.vector for s in reversed(stored)]), vectors)  # type: ignore[misc]
    rows = store.index_rows(UNIT)
    assert rows.keys.tolist() == keys
    np.testing.assert_array_equal(rows.vectors, vectors)


def test_index_rows_roundtrip_tokens_and_vectors_per_unit(store: SqlDocumentStore) -> None:
    store.add_unit(Unit("bo-tttt", "Bộ TT&TT"))
    _, _, tokens1, vectors1, keys1 = _add(store, "d1", ["Hội nghị giao ban", "trợ lý ảo 90%"], seed=1)
    _, _, tokens2, vectors2, keys2 = _add(store, "d2", ["một đoạn khác"], unit="bo-tttt", seed=2)
    rows = store.index_rows(UNIT)
    assert rows.keys.dtype == np.int64 and rows.keys.tolist() == keys1
    assert rows.tokens == tokens1
    assert rows.vectors.dtype == np.float32
    np.testing.assert_array_equal(rows.vectors, vectors1)
    other = store.index_rows("bo-tttt")
    assert other.keys.tolist() == keys2 and other.tokens == tokens2
    np.testing.assert_array_equal(other.vectors, vectors2)
    empty = store.index_rows("khong-co")
    assert len(empty.keys) == 0 and empty.tokens == [] and len(empty.vectors) == 0


def test_add_document_is_all_or_nothing(store: SqlDocumentStore) -> None:
    document = _document(UNIT, "d1", ["a", "b"])
    passages = _passages(document, ["a", "b"])
    with pytest.raises(ValueError):  # two passages, one vector: nothing may remain
        store.add_document(document, passages, [["a"], ["b"]], _vectors(1))
    assert store.get_document(UNIT, "d1") is None
    assert len(store.index_rows(UNIT).keys) == 0


def test_the_same_content_again_is_refused_with_the_stored_document(store: SqlDocumentStore) -> None:
    document, *_, keys = _add(store, "d1", ["một", "hai"])
    again = _document(UNIT, "d1-again", ["một", "hai"], content_hash="hash-d1")  # another id, the same content
    with pytest.raises(ContentStored) as raised:
        store.add_document(again, _passages(again, ["một", "hai"]), [["một"], ["hai"]], _vectors(2))
    assert raised.value.document == document
    assert store.list_documents(UNIT) == [document]
    assert store.index_rows(UNIT).keys.tolist() == keys
    # Another unit may hold the same content.
    store.add_unit(Unit("bo-tttt", "Bộ TT&TT"))
    other = _document("bo-tttt", "d1-bo", ["một", "hai"], content_hash="hash-d1")
    assert len(store.add_document(other, _passages(other, ["một", "hai"]), [["một"], ["hai"]], _vectors(2))) == 2


def test_delete_document_returns_its_keys_and_removes_its_rows(store: SqlDocumentStore) -> None:
    *_, keys1 = _add(store, "d1", ["một", "hai"])
    *_, keys2 = _add(store, "d2", ["ba"], seed=3)
    removed = store.delete_document(UNIT, "d1")
    assert sorted(removed) == sorted(keys1)
    assert store.get_document(UNIT, "d1") is None
    assert store.passages(keys1) == []
    assert store.index_rows(UNIT).keys.tolist() == keys2
    assert [d.id for d in store.list_documents(UNIT)] == ["d2"]
    assert store.delete_document(UNIT, "d1") == []


def test_keys_are_never_reused(store: SqlDocumentStore) -> None:
    *_, first = _add(store, "d1", ["một", "hai"])
    store.delete_document(UNIT, "d1")
    *_, second = _add(store, "d2", ["ba", "bốn"])
    assert min(second) > max(first)


def test_replace_document_swaps_the_passages_in_one_transaction(store: SqlDocumentStore) -> None:
    *_, old_keys = _add(store, "d1", ["một", "hai"])
    *_, other_keys = _add(store, "d2", ["khác"], seed=2)
    before = store.unit_fingerprint(UNIT)
    new = _document(UNIT, "d1", ["ba", "bốn", "năm"], content_hash="hash-new")
    new_passages = [
        Passage(f"new-p{i}", "d1", UNIT, i, p.start, p.end, p.text)
        for i, p in enumerate(_passages(new, ["ba", "bốn", "năm"]))
    ]
    old, fresh = store.replace_document(new, new_passages, [["ba"], ["bốn"], ["năm"]], _vectors(3, seed=5))
    assert sorted(old) == sorted(old_keys) and len(fresh) == 3
    assert store.get_document(UNIT, "d1") == new
    assert store.index_rows(UNIT).keys.tolist() == sorted(other_keys + fresh)
    assert [p.passage.text for p in store.passages(fresh)] == ["ba", "bốn", "năm"]
    assert store.unit_fingerprint(UNIT) != before
    # All or nothing: a failing replacement leaves the document as it was.
    broken = _document(UNIT, "d1", ["sáu"], content_hash="hash-broken")
    with pytest.raises(ValueError):
        store.replace_document(broken, _passages(broken, ["sáu"]), [["sáu"]], _vectors(2))
    assert store.get_document(UNIT, "d1") == new
    assert sorted(store.index_rows(UNIT).keys.tolist()) == sorted(other_keys + fresh)


def test_replacing_with_another_documents_content_is_a_conflict(store: SqlDocumentStore) -> None:
    _add(store, "d1", ["một"])
    d2, *_ = _add(store, "d2", ["hai"], seed=2)
    clash = _document(UNIT, "d1", ["hai"], content_hash="hash-d2")
    with pytest.raises(Conflict, match="'d2'"):
        store.replace_document(clash, [Passage("x-p0", "d1", UNIT, 0, 0, 3, "hai")], [["hai"]], _vectors(1))
    assert store.get_document(UNIT, "d1") is not None and store.get_document(UNIT, "d2") == d2


def test_a_store_opened_again_sees_everything(open_store: Opener, store: SqlDocumentStore) -> None:
    store.add_unit(Unit("bo-tttt", "Bộ TT&TT"))
    document, *_, keys = _add(store, "d1", ["một", "hai"], unit="bo-tttt")
    store.set_meta("embedder", "fake")
    store.close()
    again = open_store()
    assert again.index_rows("bo-tttt").keys.tolist() == keys
    assert again.get_document("bo-tttt", "d1") == document
    assert again.get_meta("embedder") == "fake"
    with pytest.raises(UnitExists):
        again.add_unit(Unit("bo-tttt", "Bộ TT&TT"))


def test_the_fingerprint_follows_the_units_keys(store: SqlDocumentStore) -> None:
    assert store.unit_fingerprint(UNIT) == "0:0:0"
    *_, keys = _add(store, "d1", ["một", "hai"])
    assert store.unit_fingerprint(UNIT) == f"2:{max(keys)}:{sum(keys)}"
    assert store.unit_fingerprint("khong-co") == "0:0:0"


def _race(replicas: list[SqlDocumentStore], document: Document, texts: list[str]) -> list[object]:
    """Both replicas add ``document`` at the same moment; returns what each got (keys or an exception)."""
    barrier = threading.Barrier(len(replicas))
    outcomes: list[object] = [None] * len(replicas)

    def add(i: int) -> None:
        barrier.wait()
        try:
            tokens = [t.split() for t in texts]
            outcomes[i] = replicas[i].add_document(document, _passages(document, texts), tokens, _vectors(len(texts)))
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(replicas))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_replicas_adding_the_same_content_at_once_store_it_once(open_store: Opener) -> None:
    """Each round, two stores (two replicas' connections) add the same document at the same moment: one
    stores it, the other gets ContentStored with that document, never a database error."""
    replicas = [open_store(), open_store()]
    replicas[0].add_unit(Unit(UNIT, "Cục Viễn thông"))
    for round_ in range(8):
        texts = [f"vòng {round_} đoạn một", f"vòng {round_} đoạn hai"]
        document = _document(UNIT, f"d{round_}", texts)
        outcomes = _race(replicas, document, texts)
        stored = [o for o in outcomes if isinstance(o, list)]
        refused = [o for o in outcomes if isinstance(o, ContentStored)]
        assert len(stored) == 1 and len(refused) == 1, outcomes
        assert refused[0].document == document
        assert replicas[1].find_document(UNIT, document.content_hash) == document
    keys = replicas[0].index_rows(UNIT).keys.tolist()
    assert len(keys) == 16 == len(set(keys))
    assert len(replicas[1].list_documents(UNIT)) == 8


def test_a_replica_that_lost_the_race_answers_with_the_stored_document(
    open_store: Opener,
    tmp_path: Path,
    make_fake_embedder: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replica b looked the content up before replica a stored it (its look-up is made to miss here): its
    insert meets the unique constraint, and it answers with a's document as for content sent again."""
    a, b = (
        Assistant(open_store(), make_fake_embedder(), AnswerModel.load(), settings_factory(tmp_path / name))
        for name in ("a", "b")
    )
    a.create_unit(UNIT, "Cục Viễn thông")
    report = DocumentInput(title="Báo cáo", text="Từ ngày 15/9/2024 sẽ tắt sóng 2G.", date="2024-09")
    first = a.add_document(UNIT, report)
    monkeypatch.setattr(b.store, "find_document", lambda unit, content_hash: None)
    second = b.add_document(UNIT, report)
    assert first.created and not second.created
    assert second.document == first.document
    assert a.list_documents(UNIT) == [first.document]
    assert len(a.store.index_rows(UNIT).keys) == first.document.passages


def test_postgres_passage_keys_are_64_bit(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    store = SqlDocumentStore.open(url)
    try:
        with store.database.read() as conn:
            kind = conn.scalar(
                sa.text(
                    "SELECT data_type FROM information_schema.columns"
                    " WHERE table_name = 'passages' AND column_name = 'key'"
                )
            )
        assert kind == "bigint"
    finally:
        store.close()


def _recounted(store: SqlDocumentStore, units: list[str], tokens: list[str]) -> tuple[int, dict[str, int]]:
    """BM25's n and document frequencies counted afresh from the stored passages' tokens."""
    rows = [passage for unit in units for passage in store.index_rows(unit).tokens]
    return len(rows), {t: sum(t in passage for passage in rows) for t in tokens}


def test_token_frequencies_follow_every_write(store: SqlDocumentStore) -> None:
    store.add_unit(Unit(OTHER, "Đơn vị khác"))
    asked = ["sóng", "2g", "tắt", "bưu", "không_có"]
    _add(store, "d1", ["tắt sóng 2g sóng", "hỗ trợ đổi máy 2g"])
    _add(store, "d2", ["sóng 4g phủ rộng"], seed=2)
    _add(store, "o1", ["bưu chính tắt sóng"], unit=OTHER, seed=3)
    for units in ([UNIT], [OTHER], [UNIT, OTHER]):
        assert store.token_frequencies(units, asked) == _recounted(store, units, asked)
    assert store.token_frequencies([UNIT], asked)[1]["sóng"] == 2  # a passage holding it twice counts once

    new = _document(UNIT, "d1", ["lùi lịch tắt sóng 2g"], content_hash="hash-new")
    store.replace_document(
        new, _passages(new, ["lùi lịch tắt sóng 2g"]), [["lùi", "lịch", "tắt", "sóng", "2g"]], _vectors(1)
    )
    store.delete_document(UNIT, "d2")
    for units in ([UNIT], [OTHER], [UNIT, OTHER]):
        assert store.token_frequencies(units, asked) == _recounted(store, units, asked)
    with pytest.raises(ValueError):  # a failed write changes no count
        store.add_document(
            _document(UNIT, "d3", ["sóng"]),
            _passages(_document(UNIT, "d3", ["sóng"]), ["sóng"]),
            [["sóng"]],
            _vectors(2),
        )
    assert store.token_frequencies([UNIT], asked) == _recounted(store, [UNIT], asked)
    store.delete_document(UNIT, "d1")
    assert store.token_frequencies([UNIT], asked) == (0, dict.fromkeys(asked, 0))
    with store.database.read() as conn:  # nothing left behind for a unit without passages
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(token_counts).where(token_counts.c.unit == UNIT)
            ).scalar_one()
            == 0
        )
