"""Backups of a data directory (app/service/backup.py) on real SQLite files, FAISS and BM25 snapshots:
consistent while another connection writes, never over existing data, and never restored from a
damaged or partial backup."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import app.service.backup as backup_module
from app import __version__
from app.access import AccessControl
from app.activity import ActivityLog
from app.answer.model import DEFAULT_MODEL_PATH, AnswerModel
from app.assistant import Assistant
from app.domain import DocumentInput
from app.errors import BackupFailed, BackupInvalid, Conflict, DataDirInUse, NotFound
from app.service.backup import restore_backup, take_backup
from app.service.backup_manifest import MANIFEST, BackupManifest, copy_hashed, file_digest
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.base import IndexRows
from app.store.data_dir_lock import LOCK_FILE, DataDirLock
from app.store.database import Database

EMBEDDER = "fake/bag-of-syllables-64"
SNAPSHOTTED, WRITTEN_SINCE = "cuc-vien-thong", "cuc-buu-dien"
DOCS = {
    SNAPSHOTTED: [
        DocumentInput(title="Tắt sóng 2G", text="Từ ngày 15/9/2024 sẽ tắt sóng 2G theo quy định của Bộ."),
        DocumentInput(title="Tần số", text="Bộ sẽ đấu giá băng tần 3800-3900 MHz cho mạng 5G trong năm nay."),
    ],
    WRITTEN_SINCE: [
        DocumentInput(title="Bưu chính", text="Khoảng 800 doanh nghiệp bưu chính đang hoạt động trên cả nước."),
    ],
}
QUESTIONS = [
    ("Khi nào tắt sóng 2G?", SNAPSHOTTED),
    ("Băng tần nào sẽ được đấu giá?", SNAPSHOTTED),
    ("Có bao nhiêu doanh nghiệp bưu chính?", WRITTEN_SINCE),
    ("Có bao nhiêu doanh nghiệp bưu chính?", None),
]

Opener = Callable[..., Assistant]


@pytest.fixture()
def open_at(make_fake_embedder: Callable[..., object], settings_factory: Callable[..., Settings]) -> Iterator[Opener]:
    opened: list[Assistant] = []

    def open_(data_dir: Path, store_class: type[SqlDocumentStore] = SqlDocumentStore) -> Assistant:
        settings = settings_factory(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        store = store_class.open(settings.db_url)
        assistant = Assistant(store, make_fake_embedder(EMBEDDER), AnswerModel.load(), settings)  # type: ignore[arg-type]
        opened.append(assistant)
        return assistant

    yield open_
    for assistant in opened:
        assistant.store.close()  # type: ignore[attr-defined]


def _populate(data: Path, open_at: Opener) -> Assistant:
    """Two units, one snapshotted since its last write and one written after the snapshot; keys,
    activity and a tuned answer model: every kind of file a data directory holds."""
    assistant = open_at(data)
    assistant.create_unit(SNAPSHOTTED, "Cục Viễn thông")
    assistant.add_documents(SNAPSHOTTED, DOCS[SNAPSHOTTED])
    assistant.create_unit(WRITTEN_SINCE, "Cục Bưu điện")
    assistant.save_indexes()
    assistant.add_documents(WRITTEN_SINCE, DOCS[WRITTEN_SINCE])
    AccessControl(_database(assistant)).create_key("reader")
    ActivityLog(_database(assistant)).record(assistant.ask("Khi nào tắt sóng 2G?", SNAPSHOTTED), 1.0)
    shutil.copyfile(DEFAULT_MODEL_PATH, data / "answer_model.json")
    return assistant


def _database(assistant: Assistant) -> Database:
    """The database of the assistant's store, which keys and activity share with the documents."""
    store = assistant.store
    assert isinstance(store, SqlDocumentStore)
    return store.database


def _retrieved(assistant: Assistant) -> list[list[tuple[str, int | None, int | None]]]:
    return [
        [(h.passage.id, h.dense_rank, h.lexical_rank) for h in assistant.retrieve(q, unit, 5)] for q, unit in QUESTIONS
    ]


def _entries(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


class _NoRebuildOf(SqlDocumentStore):
    """Fails the test if the snapshotted unit is rebuilt from the store instead of read from its snapshot."""

    def index_rows(self, unit: str) -> IndexRows:
        assert unit != SNAPSHOTTED, f"{unit} was rebuilt from the store: its snapshot was not restored"
        return super().index_rows(unit)


def test_a_backup_restores_the_same_data_and_a_current_snapshot(
    tmp_path: Path, open_at: Opener, settings_factory: Callable[..., Settings]
) -> None:
    live = _populate(tmp_path / "data", open_at)
    dest = tmp_path / "backup"
    dest.mkdir()  # an existing empty folder is fine

    manifest = take_backup(settings_factory(tmp_path / "data"), dest)

    assert manifest.troly_version == __version__ and manifest.embedder == EMBEDDER
    assert {u: s.snapshot for u, s in manifest.units.items()} == {SNAPSHOTTED: True, WRITTEN_SINCE: False}
    kinds = {f.path: f.kind for f in manifest.files}
    # One database file holds the documents, the keys and the activity: one consistent state of all three.
    assert {p for p, k in kinds.items() if k == "sqlite"} == {"troly.sqlite3"}
    assert {p for p, k in kinds.items() if k == "model"} == {"answer_model.json"}
    assert {p.split("/")[1] for p, k in kinds.items() if k == "snapshot"} == {SNAPSHOTTED}
    assert all(file_digest(dest / f.path) == (f.size, f.sha256) for f in manifest.files)
    assert BackupManifest.read(dest) == manifest
    # Self-contained files: nothing beside them that a copy of the folder could miss.
    assert sorted(p.name for p in dest.glob("*.sqlite3*")) == ["troly.sqlite3"]

    restored_dir = tmp_path / "restored"
    assert restore_backup(dest, settings_factory(restored_dir)) == manifest
    # The backed-up files, and the lock file the restore held (released: empty).
    assert _entries(restored_dir) == sorted([*(e for e in _entries(dest) if e != MANIFEST), LOCK_FILE])
    assert (restored_dir / LOCK_FILE).read_bytes() == b""
    restored = open_at(restored_dir, _NoRebuildOf)
    assert _retrieved(restored) == _retrieved(live)
    for unit in DOCS:
        assert restored.list_documents(unit) == live.list_documents(unit)
    restored_keys = AccessControl(_database(restored)).list_keys()
    assert len(restored_keys) == 1 and restored_keys == AccessControl(_database(live)).list_keys()
    assert ActivityLog(_database(restored)).stats().questions == 1


def _document(i: int) -> DocumentInput:
    return DocumentInput(title=f"Báo cáo số {i}", text=f"Báo cáo số {i}: trong tháng có {i} cuộc tấn công mạng.")


def test_a_backup_taken_while_another_connection_writes_is_one_consistent_state(
    tmp_path: Path, open_at: Opener, settings_factory: Callable[..., Settings]
) -> None:
    data = tmp_path / "data"
    _populate(data, open_at)
    writer = open_at(data)  # its own connections, as a service's would be
    committed = [0]
    started, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                writer.add_document(SNAPSHOTTED, _document(committed[0]))
                committed[0] += 1
                if committed[0] >= 3:
                    started.set()
        except BaseException as exc:
            failures.append(exc)
            started.set()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert started.wait(60), "the writer never wrote"
        before = committed[0]
        manifest = take_backup(settings_factory(data), tmp_path / "backup")
    finally:
        stop.set()
        thread.join()
    assert failures == []

    db = sqlite3.connect(tmp_path / "backup" / "troly.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Every document whole, with all its passages, or absent: one committed state of the store.
    partial = db.execute(
        "SELECT d.id FROM documents d LEFT JOIN passages p ON p.document_id = d.id"
        " GROUP BY d.id HAVING count(p.key) != max(d.passages)"
    ).fetchall()
    orphans = db.execute("SELECT count(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents)")
    assert partial == [] and orphans.fetchone()[0] == 0
    # Every write committed before the backup began is in it (a copy of the file alone misses the WAL's).
    titles = {t for (t,) in db.execute("SELECT title FROM documents")}
    assert {_document(i).title for i in range(before)} | {d.title for docs in DOCS.values() for d in docs} <= titles
    # The snapshot matches the backed-up store only if no document was added after it: here it is stale.
    assert manifest.units[SNAPSHOTTED].snapshot is False


def test_a_snapshot_replaced_while_it_is_copied_is_left_out(
    tmp_path: Path, open_at: Opener, settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service saves a snapshot as a new folder renamed over the old one: a copy that spans the
    rename could mix two snapshots' files, so it is dropped and the restore rebuilds the unit."""
    live = _populate(tmp_path / "data", open_at)

    def copy_while_saving(source: Path, target: Path) -> tuple[int, str]:
        if source.parent.name == SNAPSHOTTED:
            live.save_indexes()  # the same passages, a new folder
        return copy_hashed(source, target)

    monkeypatch.setattr(backup_module, "copy_hashed", copy_while_saving)
    manifest = take_backup(settings_factory(tmp_path / "data"), tmp_path / "backup")

    assert manifest.units[SNAPSHOTTED].snapshot is False
    assert not (tmp_path / "backup" / "indexes").exists()
    restore_backup(tmp_path / "backup", settings_factory(tmp_path / "restored"))
    assert _retrieved(open_at(tmp_path / "restored")) == _retrieved(live)


def test_a_backup_refuses_a_destination_that_holds_anything_and_writes_nothing(
    tmp_path: Path, open_at: Opener, settings_factory: Callable[..., Settings]
) -> None:
    _populate(tmp_path / "data", open_at)
    settings = settings_factory(tmp_path / "data")
    dest = tmp_path / "backups" / "monday"
    dest.mkdir(parents=True)
    (dest / "notes.txt").write_text("an earlier backup's notes", encoding="utf-8")
    with pytest.raises(Conflict, match="not empty"):
        take_backup(settings, dest)
    assert _entries(tmp_path / "backups") == ["monday", "monday/notes.txt"]

    a_file = tmp_path / "backups" / "a-file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(Conflict):
        take_backup(settings, a_file)
    assert a_file.read_text(encoding="utf-8") == "x"


def test_a_backup_of_a_data_directory_without_a_store_is_refused(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(NotFound, match="no knowledge base"):
        take_backup(settings_factory(tmp_path / "data"), tmp_path / "backup")
    assert not (tmp_path / "backup").exists()


def test_a_backup_that_fails_midway_leaves_nothing(
    tmp_path: Path, open_at: Opener, settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    _populate(tmp_path / "data", open_at)

    def disk_full(source: Path, target: Path) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_module, "copy_hashed", disk_full)
    with pytest.raises(BackupFailed, match="No space left"):
        take_backup(settings_factory(tmp_path / "data"), tmp_path / "new")
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackupFailed):
        take_backup(settings_factory(tmp_path / "data"), tmp_path / "empty")
    assert _entries(tmp_path / "empty") == []


@pytest.fixture()
def backup_dir(tmp_path: Path, open_at: Opener, settings_factory: Callable[..., Settings]) -> Path:
    _populate(tmp_path / "data", open_at)
    take_backup(settings_factory(tmp_path / "data"), tmp_path / "backup")
    return tmp_path / "backup"


def _flip_a_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def _snapshot_file(backup: Path) -> Path:
    return next(p for p in sorted((backup / "indexes").rglob("*")) if p.is_file() and p.name != "manifest.json")


def _rewrite_manifest(backup: Path, change: Callable[[dict[str, object]], None]) -> None:
    body = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    change(body)
    (backup / MANIFEST).write_text(json.dumps(body), encoding="utf-8")


def _first_path(body: dict[str, object], path: str) -> None:
    files = body["files"]
    assert isinstance(files, list)
    files[0]["path"] = path


DAMAGES: dict[str, tuple[Callable[[Path], object], str]] = {
    "a flipped byte in the store": (
        lambda b: _flip_a_byte(b / "troly.sqlite3"),
        "^troly.sqlite3 in the backup .* is damaged",
    ),
    "a truncated snapshot file": (
        lambda b: _snapshot_file(b).write_bytes(b""),
        f"^indexes/{SNAPSHOTTED}/.* is damaged",
    ),
    "a missing file": (lambda b: (b / "answer_model.json").unlink(), "^answer_model.json is missing .* partial"),
    "no manifest (unfinished)": (lambda b: (b / MANIFEST).unlink(), "no manifest.json"),
    "a garbled manifest": (lambda b: (b / MANIFEST).write_text("{", encoding="utf-8"), "cannot be read"),
    "a path out of the backup": (lambda b: _rewrite_manifest(b, lambda m: _first_path(m, "../x")), "leaves"),
    "a newer format": (lambda b: _rewrite_manifest(b, lambda m: m.update(format=99)), "format 99"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("target_exists", [False, True])
def test_a_damaged_or_partial_backup_is_refused_and_nothing_is_written(
    tmp_path: Path, backup_dir: Path, settings_factory: Callable[..., Settings], damage: str, target_exists: bool
) -> None:
    spoil, message = DAMAGES[damage]
    spoil(backup_dir)
    target = tmp_path / "restored"
    if target_exists:
        target.mkdir()
    beside, backed_up = sorted(p.name for p in tmp_path.iterdir()), _entries(backup_dir)
    with pytest.raises(BackupInvalid, match=message):
        restore_backup(backup_dir, settings_factory(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == beside  # no staging folder left beside it either
    assert _entries(backup_dir) == backed_up
    assert target.exists() is target_exists
    assert not target_exists or _entries(target) == []


def test_a_restore_refuses_a_data_directory_that_holds_anything(
    tmp_path: Path, backup_dir: Path, settings_factory: Callable[..., Settings]
) -> None:
    target = tmp_path / "restored"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(Conflict, match="not empty"):
        restore_backup(backup_dir, settings_factory(target))
    assert _entries(target) == ["keep.txt"]
    with pytest.raises(Conflict):
        restore_backup(backup_dir, settings_factory(tmp_path / "data"))  # the live data directory


def test_a_restore_that_fails_midway_leaves_the_data_directory_as_it_was(
    tmp_path: Path, backup_dir: Path, settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [0]

    def fail_on_the_third(source: Path, target: Path) -> tuple[int, str]:
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(28, "No space left on device")
        return copy_hashed(source, target)

    monkeypatch.setattr(backup_module, "copy_hashed", fail_on_the_third)
    with pytest.raises(BackupFailed, match="nothing was restored"):
        restore_backup(backup_dir, settings_factory(tmp_path / "restored"))
    assert not (tmp_path / "restored").exists()


def test_a_restore_refuses_a_data_directory_a_service_took_while_the_backup_was_verified(
    tmp_path: Path, backup_dir: Path, settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "restored"
    target.mkdir()
    held: list[DataDirLock] = []
    verify = backup_module.verify_backup

    def a_service_starts_meanwhile(source: Path, manifest: BackupManifest) -> None:
        verify(source, manifest)
        held.append(DataDirLock.acquire(target))  # as open_assistant does, then it writes its store
        (target / "troly.sqlite3").write_bytes(b"the service's")

    monkeypatch.setattr(backup_module, "verify_backup", a_service_starts_meanwhile)
    with pytest.raises(DataDirInUse, match="already open in this process"):
        restore_backup(backup_dir, settings_factory(target))
    assert _entries(target) == [LOCK_FILE, "troly.sqlite3"]
    assert (target / "troly.sqlite3").read_bytes() == b"the service's"
    held[0].release()
