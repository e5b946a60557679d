"""The document store on SQLAlchemy Core: SQLite in the data directory, or PostgreSQL shared by replicas.

Every write is one transaction (``Database.write``): a document goes in with all its passages or not at
all. Replicas may write the same unit at once; the database's constraints decide the races:

* the same content sent to two replicas: ``documents``' unique (unit, content_hash) lets one copy in,
  and the other replica's insert raises ``ContentStored`` with the stored document;
* the same unit created twice: ``UnitExists`` for the second;
* a document replaced or deleted by two replicas at once: its row is locked first (``FOR UPDATE`` on
  PostgreSQL; SQLite's write transaction already excludes other writers), so the second sees the
  first's passages and removes them, never leaving both sets behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.domain import Document, Passage, Unit, keys_fingerprint
from app.errors import Conflict, UnitExists
from app.store import token_counts
from app.store.base import ContentStored, IndexRows, StoredPassage
from app.store.database import Database
from app.store.migrate import open_upgraded
from app.store.schema import documents, meta, units
from app.store.schema import passages as passage_rows  # `passages` is the protocol's argument name

# In the order of the Document dataclass's fields: rows are unpacked into it.
_DOC_COLUMNS = (
    documents.c.id,
    documents.c.unit,
    documents.c.title,
    documents.c.text,
    documents.c.date,
    documents.c.source,
    documents.c.content_hash,
    documents.c.passages,
    documents.c.created_at,
)


def _document(row: Sequence[Any]) -> Document:
    return Document(*row)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqlDocumentStore:
    def __init__(self, database: Database) -> None:
        """A store on an open database whose schema is at the head (``open`` does both)."""
        self._db = database

    @classmethod
    def open(cls, url: str) -> Self:
        """The store in the database at ``url``, its schema upgraded to this release's first (app.store.migrate)."""
        return cls(open_upgraded(url))

    @property
    def database(self) -> Database:
        return self._db

    def close(self) -> None:
        self._db.close()

    # -- meta and units ----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._db.read() as conn:
            value = conn.scalar(sa.select(meta.c.value).where(meta.c.key == key))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self._db.write() as conn:
            if conn.dialect.name == "postgresql":
                pg = postgresql.insert(meta).values(key=key, value=value)
                conn.execute(pg.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": pg.excluded.value}))
            else:
                lite = sqlite.insert(meta).values(key=key, value=value)
                conn.execute(
                    lite.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": lite.excluded.value})
                )

    def add_unit(self, unit: Unit) -> None:
        exists = UnitExists(f"unit {unit.id!r} already exists")
        try:
            with self._db.write() as conn:
                if conn.scalar(sa.select(units.c.id).where(units.c.id == unit.id)) is not None:
                    raise exists
                conn.execute(sa.insert(units).values(id=unit.id, name=unit.name, created_at=_now()))
        except sa.exc.IntegrityError:  # another replica created it between the look-up and the insert
            raise exists from None

    def get_unit(self, unit_id: str) -> Unit | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(units.c.id, units.c.name).where(units.c.id == unit_id)).first()
        return None if row is None else Unit(id=row.id, name=row.name)

    def list_units(self) -> list[Unit]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(units.c.id, units.c.name).order_by(units.c.id)).all()
        return [Unit(id=r.id, name=r.name) for r in rows]

    # -- documents ---------------------------------------------------------------------
    def find_document(self, unit: str, content_hash: str) -> Document | None:
        return self._holding(unit, content_hash)

    def _holding(self, unit: str, content_hash: str) -> Document | None:
        """The unit's document with this content (also what a refused insert or update met)."""
        query = sa.select(*_DOC_COLUMNS).where(documents.c.unit == unit, documents.c.content_hash == content_hash)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _document(row)

    def get_document(self, unit: str, document_id: str) -> Document | None:
        query = sa.select(*_DOC_COLUMNS).where(documents.c.unit == unit, documents.c.id == document_id)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _document(row)

    def list_documents(self, unit: str) -> list[Document]:
        query = (
            sa.select(*_DOC_COLUMNS).where(documents.c.unit == unit).order_by(documents.c.created_at, documents.c.id)
        )
        with self._db.read() as conn:
            return [_document(r) for r in conn.execute(query).all()]

    def add_document(
        self,
        document: Document,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> list[int]:
        """Raises ``ContentStored`` (with the stored document) when the unit already holds this content."""
        try:
            with self._db.write() as conn:
                conn.execute(sa.insert(documents).values(_document_values(document)))
                token_counts.change(conn, document.unit, added=tokens)
                return _insert_passages(conn, passages, tokens, vectors)
        except sa.exc.IntegrityError:
            stored = self._holding(document.unit, document.content_hash)
            if stored is None:
                raise  # not the same content: a constraint this store does not expect to meet
            raise ContentStored(
                f"unit {document.unit!r} already holds this content as document {stored.id!r}", stored
            ) from None

    def replace_document(
        self,
        document: Document,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> tuple[list[int], list[int]]:
        try:
            with self._db.write() as conn:
                _lock_document(conn, document.unit, document.id)
                old = _passage_keys(conn, document.unit, document.id)
                removed = token_counts.stored_tokens(conn, document.unit, document.id)
                _delete_passages(conn, document.unit, document.id)
                token_counts.change(conn, document.unit, added=tokens, removed=removed)
                values = _document_values(document)
                del values["id"], values["unit"]
                conn.execute(
                    sa.update(documents)
                    .where(documents.c.id == document.id, documents.c.unit == document.unit)
                    .values(values)
                )
                return old, _insert_passages(conn, passages, tokens, vectors)
        except sa.exc.IntegrityError:
            clash = self._holding(document.unit, document.content_hash)
            if clash is None or clash.id == document.id:
                raise
            raise Conflict(f"document {clash.id!r} of unit {document.unit!r} already has this content") from None

    def delete_document(self, unit: str, document_id: str) -> list[int]:
        with self._db.write() as conn:
            _lock_document(conn, unit, document_id)
            keys = _passage_keys(conn, unit, document_id)
            token_counts.change(conn, unit, removed=token_counts.stored_tokens(conn, unit, document_id))
            _delete_passages(conn, unit, document_id)
            conn.execute(sa.delete(documents).where(documents.c.id == document_id, documents.c.unit == unit))
        return keys

    # -- passages ----------------------------------------------------------------------
    def passages(self, keys: Sequence[int]) -> list[StoredPassage]:
        if not keys:
            return []
        p, d = passage_rows, documents
        query = (
            sa.select(
                p.c.key,
                p.c.id,
                p.c.document_id,
                p.c.unit,
                p.c.seq,
                p.c.start,
                p.c.end,
                p.c.text,
                d.c.title,
                d.c.date,
                p.c.vector,
            )
            .join(d, d.c.id == p.c.document_id)
            .where(p.c.key.in_([int(k) for k in keys]))
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        by_key = {
            int(r.key): StoredPassage(
                key=int(r.key),
                passage=Passage(
                    id=r.id, document_id=r.document_id, unit=r.unit, seq=r.seq, start=r.start, end=r.end, text=r.text
                ),
                title=r.title,
                date=r.date,
                vector=np.frombuffer(r.vector, dtype=np.float32),
            )
            for r in rows
        }
        return [by_key[int(k)] for k in keys if int(k) in by_key]

    def unit_fingerprint(self, unit: str) -> str:
        return self.passages_fingerprint([unit])

    def passages_fingerprint(self, units: Sequence[str]) -> str:
        key = passage_rows.c.key
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(key), 0), sa.func.coalesce(sa.func.sum(key), 0))
        where = passage_rows.c.unit == units[0] if len(units) == 1 else passage_rows.c.unit.in_(list(units))
        with self._db.read() as conn:
            count, largest, total = conn.execute(query.where(where)).one()
        return keys_fingerprint(int(count), int(largest), int(total))

    def token_frequencies(self, units: Sequence[str], tokens: Sequence[str]) -> tuple[int, dict[str, int]]:
        n = sa.select(sa.func.count()).select_from(passage_rows).where(passage_rows.c.unit.in_(list(units)))
        with self._db.read() as conn:  # one state of the database: n and the counts agree
            return int(conn.execute(n).scalar_one()), token_counts.frequencies(conn, units, tokens)

    def index_rows(self, unit: str) -> IndexRows:
        query = (
            sa.select(passage_rows.c.key, passage_rows.c.tokens, passage_rows.c.vector)
            .where(passage_rows.c.unit == unit)
            .order_by(passage_rows.c.key)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        keys = np.fromiter((r.key for r in rows), dtype=np.int64, count=len(rows))
        tokens = [r.tokens.split() for r in rows]
        if rows:
            vectors = np.vstack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
        else:
            vectors = np.zeros((0, 0), dtype=np.float32)
        return IndexRows(keys=keys, tokens=tokens, vectors=vectors)


def _document_values(d: Document) -> dict[str, Any]:
    return {
        "id": d.id,
        "unit": d.unit,
        "title": d.title,
        "text": d.text,
        "date": d.date,
        "source": d.source,
        "content_hash": d.content_hash,
        "passages": d.passages,
        "created_at": d.created_at,
    }


def _insert_passages(
    conn: Connection,
    items: Sequence[Passage],
    tokens: Sequence[Sequence[str]],
    vectors: npt.NDArray[np.float32],
) -> list[int]:
    """Inserts the passages; returns their new keys, in the order given."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows = [
        {
            "id": passage.id,
            "document_id": passage.document_id,
            "unit": passage.unit,
            "seq": passage.seq,
            "start": passage.start,
            "end": passage.end,
            "text": passage.text,
            "tokens": " ".join(toks),
            "vector": vector.tobytes(),
        }
        for passage, toks, vector in zip(items, tokens, vectors, strict=True)
    ]
    if not rows:
        return []
    inserted = conn.execute(sa.insert(passage_rows).returning(passage_rows.c.key, sort_by_parameter_order=True), rows)
    return [int(k) for k in inserted.scalars()]


def _lock_document(conn: Connection, unit: str, document_id: str) -> None:
    """Holds the document's row until the transaction ends (a no-op on SQLite, whose writer is alone)."""
    conn.execute(
        sa.select(documents.c.id).where(documents.c.id == document_id, documents.c.unit == unit).with_for_update()
    )


def _passage_keys(conn: Connection, unit: str, document_id: str) -> list[int]:
    query = sa.select(passage_rows.c.key).where(passage_rows.c.document_id == document_id, passage_rows.c.unit == unit)
    return [int(k) for k in conn.scalars(query)]


def _delete_passages(conn: Connection, unit: str, document_id: str) -> None:
    conn.execute(sa.delete(passage_rows).where(passage_rows.c.document_id == document_id, passage_rows.c.unit == unit))
