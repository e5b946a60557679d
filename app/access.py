"""API keys with roles, and the audit trail of every write.

Keys are shown once, at creation, and stored only as SHA-256 hashes. Roles:
``admin`` (everything), ``maintainer`` (writes to the units listed on the key),
``reader`` (asks, needed only when reading requires a key).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from app.domain import is_slug
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.store.sqlite_connect import ThreadConnections

Role = Literal["admin", "maintainer", "reader"]
ROLES: tuple[Role, ...] = ("admin", "maintainer", "reader")
ENV_ADMIN_ID = "env-admin"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    units TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    action TEXT NOT NULL,
    unit TEXT,
    target TEXT,
    detail TEXT
);
"""


@dataclass(frozen=True)
class Principal:
    """Who makes a request: the key's id (never the key), role and units."""

    key_id: str
    role: Role
    units: tuple[str, ...] = ()

    def may_write(self, unit: str) -> bool:
        return self.role == "admin" or (self.role == "maintainer" and unit in self.units)

    def may_read(self) -> bool:
        return True  # every valid key may ask

    def require_admin(self) -> None:
        if self.role != "admin":
            raise Forbidden("this request needs an admin key")

    def require_write(self, unit: str) -> None:
        if not self.may_write(unit):
            raise Forbidden(f"this key may not change unit {unit!r}")


@dataclass(frozen=True)
class KeyInfo:
    id: str
    role: Role
    units: tuple[str, ...]
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    key_id: str
    action: str
    unit: str | None
    target: str | None
    detail: dict[str, object]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AccessControl:
    def __init__(self, path: Path, admin_key: str | None = None) -> None:
        self._admin_hash = _hash(admin_key) if admin_key else None
        self._db = ThreadConnections(path, _SCHEMA)

    # -- keys --------------------------------------------------------------------------
    def create_key(self, role: str, units: list[str] | tuple[str, ...] = ()) -> tuple[KeyInfo, str]:
        """Returns the key's record and the key itself, which is never shown again."""
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        bad = [u for u in units if not is_slug(u)]
        if bad:
            raise InvalidInput(f"unit ids must be lowercase slugs: {', '.join(bad)}")
        if role == "maintainer" and not units:
            raise InvalidInput("a maintainer key needs at least one unit")
        key = "troly_" + secrets.token_urlsafe(32)
        info = KeyInfo(uuid.uuid4().hex[:16], role, tuple(dict.fromkeys(units)), _now(), None)
        self._db().execute(
            "INSERT INTO keys (id, hash, role, units, created_at) VALUES (?, ?, ?, ?, ?)",
            (info.id, _hash(key), info.role, json.dumps(list(info.units)), info.created_at),
        )
        return info, key

    def list_keys(self) -> list[KeyInfo]:
        rows = self._db().execute("SELECT id, role, units, created_at, revoked_at FROM keys ORDER BY created_at")
        return [KeyInfo(r[0], r[1], tuple(json.loads(r[2])), r[3], r[4]) for r in rows.fetchall()]

    def revoke(self, key_id: str) -> KeyInfo:
        db = self._db()
        db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now(), key_id))
        found = [k for k in self.list_keys() if k.id == key_id]
        if not found:
            raise NotFound(f"no key with id {key_id!r}")
        return found[0]

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal for a bearer key; None when no key was given. Raises on a bad key."""
        if key is None:
            return None
        digest = _hash(key)
        if self._admin_hash is not None and secrets.compare_digest(digest, self._admin_hash):
            return Principal(ENV_ADMIN_ID, "admin")
        row = (
            self._db()
            .execute("SELECT id, role, units FROM keys WHERE hash = ? AND revoked_at IS NULL", (digest,))
            .fetchone()
        )
        if row is None:
            raise Unauthorized("unknown or revoked key")
        return Principal(row[0], row[1], tuple(json.loads(row[2])))

    # -- audit -------------------------------------------------------------------------
    def audit(
        self,
        who: Principal,
        action: str,
        unit: str | None = None,
        target: str | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        self._db().execute(
            "INSERT INTO audit (at, key_id, action, unit, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (_now(), who.key_id, action, unit, target, json.dumps(detail or {}, ensure_ascii=False)),
        )

    def audit_log(self, limit: int = 100, unit: str | None = None) -> list[AuditEntry]:
        sql = "SELECT seq, at, key_id, action, unit, target, detail FROM audit"
        args: list[object] = []
        if unit is not None:
            sql += " WHERE unit = ?"
            args.append(unit)
        rows = self._db().execute(sql + " ORDER BY seq DESC LIMIT ?", [*args, limit]).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]
