"""API keys with roles, and the audit trail of every write.

Keys are shown once, at creation, and stored only as SHA-256 hashes. Roles:
``admin`` (everything), ``maintainer`` (writes to the units listed on the key),
``reader`` (asks, needed only when reading requires a key).

Both live in the one database (tables ``api_keys`` and ``audit_log``): on PostgreSQL a key created
through one replica is known to every other at its next request, and a revoked one refused by all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa

from app.domain import is_slug
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.store.database import Database
from app.store.schema import api_keys, audit_log

Role = Literal["admin", "maintainer", "reader"]
ROLES: tuple[Role, ...] = ("admin", "maintainer", "reader")
ENV_ADMIN_ID = "env-admin"


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
    def __init__(self, database: Database, admin_key: str | None = None) -> None:
        """``database``: open, its schema at the head (app.store.migrate.open_upgraded)."""
        self._admin_hash = _hash(admin_key) if admin_key else None
        self._db = database

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
        with self._db.write() as conn:
            conn.execute(
                sa.insert(api_keys).values(
                    id=info.id,
                    hash=_hash(key),
                    role=info.role,
                    units=json.dumps(list(info.units)),
                    created_at=info.created_at,
                )
            )
        return info, key

    def list_keys(self) -> list[KeyInfo]:
        k = api_keys.c
        query = sa.select(k.id, k.role, k.units, k.created_at, k.revoked_at).order_by(k.seq)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [KeyInfo(r.id, r.role, tuple(json.loads(r.units)), r.created_at, r.revoked_at) for r in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        k = api_keys.c
        with self._db.write() as conn:
            conn.execute(sa.update(api_keys).where(k.id == key_id, k.revoked_at.is_(None)).values(revoked_at=_now()))
            row = conn.execute(
                sa.select(k.id, k.role, k.units, k.created_at, k.revoked_at).where(k.id == key_id)
            ).first()
        if row is None:
            raise NotFound(f"no key with id {key_id!r}")
        return KeyInfo(row.id, row.role, tuple(json.loads(row.units)), row.created_at, row.revoked_at)

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal for a bearer key; None when no key was given. Raises on a bad key.

        Read from the database on every request: a key revoked through another replica is refused here."""
        if key is None:
            return None
        digest = _hash(key)
        if self._admin_hash is not None and secrets.compare_digest(digest, self._admin_hash):
            return Principal(ENV_ADMIN_ID, "admin")
        k = api_keys.c
        with self._db.read() as conn:
            row = conn.execute(sa.select(k.id, k.role, k.units).where(k.hash == digest, k.revoked_at.is_(None))).first()
        if row is None:
            raise Unauthorized("unknown or revoked key")
        return Principal(row.id, row.role, tuple(json.loads(row.units)))

    # -- audit -------------------------------------------------------------------------
    def audit(
        self,
        who: Principal,
        action: str,
        unit: str | None = None,
        target: str | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                sa.insert(audit_log).values(
                    at=_now(),
                    key_id=who.key_id,
                    action=action,
                    unit=unit,
                    target=target,
                    detail=json.dumps(detail or {}, ensure_ascii=False),
                )
            )

    def audit_log(self, limit: int = 100, unit: str | None = None) -> list[AuditEntry]:
        """Newest first."""
        a = audit_log.c
        query = sa.select(a.seq, a.at, a.key_id, a.action, a.unit, a.target, a.detail)
        if unit is not None:
            query = query.where(a.unit == unit)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(a.seq.desc()).limit(limit)).all()
        return [
            AuditEntry(int(r.seq), r.at, r.key_id, r.action, r.unit, r.target, json.loads(r.detail or "{}"))
            for r in rows
        ]
