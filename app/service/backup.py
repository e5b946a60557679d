"""Backing up a data directory while the service runs, and restoring a backup into an empty one.

A backup (docs/operations-backups.md) holds:

* every SQLite file of the data directory (``*.sqlite3``), each copied with SQLite's online backup API:
  one consistent state of it, whatever the service writes meanwhile (in WAL mode neither waits). That
  is ``troly.sqlite3`` alone, which holds the knowledge base, the keys and their audit, the activity
  log and the evaluations, all in one state; a data directory no release since 0.1.0 has opened also
  has that release's separate files, backed up as they are and copied into ``troly.sqlite3`` at the
  first start after a restore (app.store.legacy_files). The ``*.sqlite3.migrated`` files such a start
  leaves behind are not backed up: their rows are in ``troly.sqlite3``;
* each unit's index snapshot, only when its manifest names exactly the passages of the backed-up
  store and it did not change while it was copied. The service snapshots its indexes at start and
  at a clean stop, not after each write: a snapshot that misses a write is left out, and the first
  start after a restore rebuilds that unit's indexes from the stored vectors (never re-embedded),
  as after a crash. A snapshot is a shortcut for the start, never the only copy of anything;
* the tuned models in the data directory (answer models, the neural reader's delta);
* ``manifest.json``, written last (backup_manifest.py): a folder without one is not a backup.

A knowledge base in PostgreSQL (cluster mode, TROLY_DATABASE_URL) is not in the data directory: both
commands refuse it, and pg_dump and pg_restore back it up (docs/operations.md, *Database*).

A restore reads every file of the backup and checks its sha256 before it writes anything, copies
the files into a hidden folder of the (empty) data directory, checks them again, and only then
moves them into place, the knowledge base last, under the data directory's lock (a service started
meanwhile is refused). A failure on either side removes what was written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from app import __version__
from app.core.indexes import SNAPSHOTS_FOLDER
from app.errors import BackupFailed, BackupInvalid, Conflict, DataDirInUse, InvalidInput, NotFound
from app.search.unit_index import snapshot_fingerprint
from app.service.backup_manifest import (
    MANIFEST,
    STORE_FILE,
    BackupFile,
    BackupManifest,
    UnitSnapshot,
    copy_hashed,
    file_digest,
    sync_directory,
    write_durably,
)
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.data_dir_lock import LOCK_FILE, DataDirLock
from app.store.database import Database, parse_url, redacted, sqlite_url
from app.store.sqlite_connect import connect

SQLITE_SUFFIX = ".sqlite3"


def take_backup(settings: Settings, dest: Path) -> BackupManifest:
    """Backs up ``settings.data_dir`` into ``dest`` (new or empty), while the service may be running.

    ``dest`` ends up holding a whole backup or, after any failure, nothing of it."""
    data = settings.data_dir
    _refuse_unless_embedded(settings, "back up")
    if not settings.db_path.is_file():
        raise NotFound(f"no knowledge base at {settings.db_path}: nothing to back up (is TROLY_DATA_DIR right?)")
    _refuse_unless_empty(
        dest, f"the backup destination {dest} is not empty: give a new or empty folder; nothing was written"
    )
    if dest.resolve().is_relative_to(data.resolve()):
        raise InvalidInput(f"the backup destination {dest} is inside the data directory {data}: keep backups elsewhere")
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        manifest = _write_backup(settings, dest)
        write_durably(dest / MANIFEST, manifest.to_json())
    except BaseException as exc:
        _clear(dest, remove=created)
        if isinstance(exc, OSError | sqlite3.Error):
            raise BackupFailed(f"the backup into {dest} failed ({exc}); nothing of it was kept") from exc
        raise
    return manifest


def restore_backup(source: Path, settings: Settings) -> BackupManifest:
    """Restores the backup in ``source`` into ``settings.data_dir``, which must be empty or absent.

    A backup that is partial, damaged or not troly's raises ``BackupInvalid`` with nothing written."""
    target = settings.data_dir
    not_empty = (
        f"the data directory {target} is not empty: restore into an empty or new one "
        "(TROLY_DATA_DIR or --data-dir); nothing was changed"
    )
    _refuse_unless_embedded(settings, "restore")
    _refuse_unless_empty(target, not_empty)
    manifest = BackupManifest.read(source)
    verify_backup(source, manifest)
    created = not target.exists()
    lock: DataDirLock | None = None
    writing = False  # from here on, what is in the directory is the restore's own
    staging = target / f".restoring-{os.getpid()}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        # The data directory's lock for the restore's length: a service started meanwhile is refused
        # instead of opening a half-restored directory. Checked again under the lock: one may have
        # started (and written) while the backup was verified.
        lock = DataDirLock.acquire(target)
        _refuse_unless_empty(target, not_empty, but=LOCK_FILE)
        writing = True
        staging.mkdir()
        for item in manifest.files:
            if copy_hashed(source / item.path, staging / item.path) != (item.size, item.sha256):
                raise BackupInvalid(f"{source / item.path} changed while it was restored; nothing was restored")
        # Into place, the knowledge base last: a data directory with a store is a restored one.
        for entry in sorted(staging.iterdir(), key=lambda p: (p.name == STORE_FILE, p.name)):
            entry.rename(target / entry.name)
        staging.rmdir()
        sync_directory(target)
    except BaseException as exc:
        if writing:
            _clear(target, remove=created)
        elif created and lock is None and not isinstance(exc, DataDirInUse):  # made here, left empty
            with contextlib.suppress(OSError):
                target.rmdir()
        if isinstance(exc, OSError):
            raise BackupFailed(f"the restore into {target} failed ({exc}); nothing was restored") from exc
        raise
    finally:
        if lock is not None:
            lock.release()
    return manifest


def verify_backup(source: Path, manifest: BackupManifest) -> None:
    """Every file the manifest lists is in ``source`` with its size and sha256 (reads them all)."""
    for item in manifest.files:
        path = source / item.path
        try:
            size, digest = file_digest(path)
        except FileNotFoundError:
            raise BackupInvalid(
                f"{item.path} is missing from the backup in {source}: it is partial; nothing was restored"
            ) from None
        except OSError as exc:
            raise BackupInvalid(f"{path} cannot be read ({exc}); nothing was restored") from None
        if (size, digest) != (item.size, item.sha256):
            raise BackupInvalid(
                f"{item.path} in the backup {source} is damaged ({size} bytes, the manifest says {item.size}; "
                "its sha256 differs from the manifest's); nothing was restored"
            )


# -- taking one -------------------------------------------------------------------------------------
def _write_backup(settings: Settings, dest: Path) -> BackupManifest:
    data = settings.data_dir
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    databases = sorted(p.name for p in data.glob(f"*{SQLITE_SUFFIX}") if p.is_file())
    for name in databases:
        backup_sqlite(data / name, dest / name)
    # What the snapshots must match is the store as backed up, not as it is now.
    embedder, fingerprints = _store_state(dest / STORE_FILE)
    files: list[BackupFile] = []
    for name in databases:
        seal_sqlite(dest / name)
        files.append(BackupFile(name, "sqlite", *file_digest(dest / name)))
    units: dict[str, UnitSnapshot] = {}
    for unit, fingerprint in fingerprints.items():
        relative = f"{SNAPSHOTS_FOLDER}/{unit}"
        copied = _copy_snapshot(data / relative, dest / relative, embedder, fingerprint) if embedder else None
        units[unit] = UnitSnapshot(fingerprint, snapshot=copied is not None)
        files.extend(BackupFile(f"{relative}/{path}", "snapshot", size, digest) for path, size, digest in copied or [])
    with contextlib.suppress(OSError):  # no snapshot was copied: no empty folder either
        (dest / SNAPSHOTS_FOLDER).rmdir()
    for model in (settings.tuned_model_path, settings.tuned_neural_model_path, settings.tuned_reader_delta_path):
        if model.is_file():
            files.append(BackupFile(model.name, "model", *copy_hashed(model, dest / model.name)))
    sync_directory(dest)
    return BackupManifest(__version__, created_at, str(data.resolve()), embedder, tuple(files), units)


def backup_sqlite(source: Path, target: Path) -> None:
    """One consistent state of a live SQLite file into ``target`` (new), through the online backup API."""
    src = connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            # pages=-1: the whole database in one step, i.e. in one read transaction of the source: a
            # single committed state even while another process writes (WAL: the writer never waits).
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()


def seal_sqlite(path: Path) -> None:
    """A backed-up database as one self-contained file: rollback journal mode, no -wal beside it (the
    service turns WAL on again when it opens the restored file)."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()


def _store_state(db: Path) -> tuple[str | None, dict[str, str]]:
    """The embedder a (backed-up) store records and each unit's passages' fingerprint."""
    # As it is: a backup of a store that the new release never opened keeps the schema it had (the first
    # start after the restore upgrades it).
    store = SqlDocumentStore(Database.open(sqlite_url(db)))
    try:
        return store.get_meta("embedder"), {u.id: store.unit_fingerprint(u.id) for u in store.list_units()}
    finally:
        store.close()


def _copy_snapshot(folder: Path, target: Path, embedder: str, expected: str) -> list[tuple[str, int, str]] | None:
    """A unit's snapshot copied into ``target`` when it holds exactly the backed-up passages
    (``expected``) and was not replaced while copied; else None, with nothing left in ``target``.

    The service never changes a snapshot in place: it writes a new folder and renames it over the old
    one. The same folder (inode) and manifest before and after the copy mean the copy is that snapshot.
    """
    try:
        before = folder.stat().st_ino
    except FileNotFoundError:
        return None
    if snapshot_fingerprint(folder, embedder) != expected:
        return None  # missing, stale or damaged: the first start after the restore rebuilds it
    try:
        sources = sorted(p for p in folder.rglob("*") if p.is_file())
        copied = [(p.relative_to(folder).as_posix(), *copy_hashed(p, target / p.relative_to(folder))) for p in sources]
        unchanged = folder.stat().st_ino == before and snapshot_fingerprint(folder, embedder) == expected
    except FileNotFoundError:  # replaced (or removed) while copied
        unchanged = False
    if not unchanged or snapshot_fingerprint(target, embedder) != expected:
        shutil.rmtree(target, ignore_errors=True)
        return None
    return copied


# -- shared -------------------------------------------------------------------------------------------
def _refuse_unless_embedded(settings: Settings, doing: str) -> None:
    """Backups copy the data directory's SQLite files: a knowledge base elsewhere (TROLY_DATABASE_URL) is
    its database's to back up, PostgreSQL's with pg_dump and pg_restore."""
    if not settings.database_url:
        return
    url = parse_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and Path(url.database or "").resolve() == settings.db_path.resolve():
        return
    if url.get_backend_name() == "postgresql":
        tool = "pg_dump" if doing == "back up" else "pg_restore, from pg_dump's archive"
    else:
        tool = "sqlite3's .backup command" if doing == "back up" else "a copy of the backed-up file"
    raise InvalidInput(
        f"troly cannot {doing} this knowledge base: TROLY_DATABASE_URL puts it in {redacted(url)}, outside the data "
        f"directory's {STORE_FILE}; {doing} that database with {tool} (docs/operations.md, *Database*); "
        "nothing was written"
    )


def _refuse_unless_empty(folder: Path, message: str, but: str | None = None) -> None:
    """``but``: a name that may be there (the lock file the restore has just taken)."""
    if folder.exists() and (not folder.is_dir() or any(p.name != but for p in folder.iterdir())):
        raise Conflict(message)


def _clear(folder: Path, remove: bool) -> None:
    """Empties ``folder`` (it was empty before we wrote into it), and removes it if we created it."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if remove:
        with contextlib.suppress(OSError):
            folder.rmdir()
