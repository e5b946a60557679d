"""A backup's manifest (``manifest.json``): what troly wrote it, when, with which embedder, and
every file with its size and sha256, so that a restore copies nothing it has not verified.

The manifest is the last file a backup writes: a folder without one is an unfinished backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from app.errors import BackupInvalid

MANIFEST = "manifest.json"
FORMAT = 1
STORE_FILE = "troly.sqlite3"  # Settings.db_path's name: a backup without it holds no knowledge base
_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")

Kind = Literal["sqlite", "snapshot", "model"]
KINDS: tuple[Kind, ...] = ("sqlite", "snapshot", "model")


@dataclass(frozen=True)
class BackupFile:
    path: str  # relative to the backup (and to the data directory it restores), with forward slashes
    kind: Kind
    size: int
    sha256: str


@dataclass(frozen=True)
class UnitSnapshot:
    """A unit of the backed-up store: its passages' fingerprint and whether its index snapshot is in
    the backup (False: the first start after a restore rebuilds it from the stored vectors)."""

    fingerprint: str
    snapshot: bool


@dataclass(frozen=True)
class BackupManifest:
    troly_version: str
    created_at: str  # ISO 8601, UTC
    source: str  # the data directory backed up
    embedder: str | None  # as the store records it (None: an empty store)
    files: tuple[BackupFile, ...]
    units: dict[str, UnitSnapshot] = field(default_factory=dict)
    format: int = FORMAT

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def count(self, kind: Kind) -> int:
        return sum(1 for f in self.files if f.kind == kind)

    def to_json(self) -> str:
        body = asdict(self)
        body["files"] = [asdict(f) for f in self.files]
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def read(cls, folder: Path) -> BackupManifest:
        """The manifest of the backup in ``folder``, checked for shape (not yet the files' hashes)."""
        where = folder / MANIFEST
        if not folder.is_dir():
            raise BackupInvalid(f"{folder} is not a directory: give the folder `troly backup` wrote")
        try:
            body = json.loads(where.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BackupInvalid(f"{folder} has no {MANIFEST}: not a troly backup, or an unfinished one") from None
        except (OSError, ValueError) as exc:
            raise BackupInvalid(f"{where} cannot be read ({exc})") from None
        try:
            return cls._parse(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupInvalid(f"{where} is damaged ({exc})") from None

    @classmethod
    def _parse(cls, body: Any) -> BackupManifest:
        if not isinstance(body, dict):
            raise TypeError("not an object")
        if body["format"] != FORMAT:
            raise ValueError(f"format {body['format']!r}, this troly reads format {FORMAT}")
        files = tuple(_parse_file(f) for f in body["files"])
        paths = [f.path for f in files]
        if len(set(paths)) != len(paths):
            raise ValueError("a file is listed twice")
        if STORE_FILE not in paths:
            raise ValueError(f"{STORE_FILE} (the knowledge base) is not listed")
        units = {str(u): UnitSnapshot(str(s["fingerprint"]), bool(s["snapshot"])) for u, s in body["units"].items()}
        embedder = body["embedder"]
        return cls(
            troly_version=str(body["troly_version"]),
            created_at=str(body["created_at"]),
            source=str(body["source"]),
            embedder=None if embedder is None else str(embedder),
            files=files,
            units=units,
        )


def _parse_file(item: Any) -> BackupFile:
    path, kind, size, digest = item["path"], item["kind"], item["size"], item["sha256"]
    if not isinstance(path, str) or not is_safe_path(path):
        raise ValueError(f"file path {path!r} leaves the backup")
    if kind not in KINDS:
        raise ValueError(f"{path}: unknown kind {kind!r}")
    if not isinstance(size, int) or size < 0 or not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ValueError(f"{path}: bad size or sha256")
    return BackupFile(path, kind, size, digest)


def is_safe_path(path: str) -> bool:
    """A relative path that stays inside the folder it is joined to."""
    parts = PurePosixPath(path).parts
    return bool(parts) and "\\" not in path and not path.startswith("/") and all(p not in ("..", ".") for p in parts)


def file_digest(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def copy_hashed(source: Path, target: Path) -> tuple[int, str]:
    """Copies ``source`` to a new file ``target`` (flushed to disk); the size and sha256 of the bytes
    written, so that what is recorded or checked is what landed, even if the source changes meanwhile."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("xb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return size, digest.hexdigest()


def write_durably(path: Path, text: str) -> None:
    """Writes ``path`` whole or not at all: a temporary file, flushed, renamed into place."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with partial.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)
    sync_directory(path.parent)


def sync_directory(folder: Path) -> None:
    """Flushes a directory's entries (new names, renames) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
