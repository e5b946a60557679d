"""BM25's document frequencies kept in the database: how many of a unit's passages hold each index token.

Every write of passages changes them in its own transaction (``count``), so they are exactly the stored
passages' at every commit, for every replica at once. Concurrent writers touch the rows in token order:
PostgreSQL's row locks are then always taken in one order, and two writers never deadlock on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.store.schema import passages, token_counts

_BATCH = 1000  # rows per statement


def counted(tokens: Iterable[Sequence[str]]) -> Counter[str]:
    """Passages holding each token (a token repeated in one passage counts once)."""
    return Counter(token for passage in tokens for token in set(passage))


def count(conn: Connection, unit: str, tokens: Iterable[Sequence[str]], sign: int) -> None:
    """Adds (``sign`` 1) or takes away (-1) these passages' tokens from the unit's counts."""
    rows = [{"unit": unit, "token": t, "passages": n} for t, n in sorted(counted(tokens).items())]
    if not rows:
        return
    table = token_counts
    if sign > 0:
        insert = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.unit, table.c.token], set_={"passages": table.c.passages + insert.excluded.passages}
        )
        for start in range(0, len(rows), _BATCH):
            conn.execute(statement, rows[start : start + _BATCH])
        return
    lower = (
        sa.update(table)
        .where(table.c.unit == sa.bindparam("u"), table.c.token == sa.bindparam("t"))
        .values(passages=table.c.passages - sa.bindparam("n"))
    )
    conn.execute(lower, [{"u": r["unit"], "t": r["token"], "n": r["passages"]} for r in rows])
    conn.execute(sa.delete(table).where(table.c.unit == unit, table.c.passages <= 0))


def count_stored(conn: Connection, unit: str, document_id: str, sign: int) -> None:
    """``count`` of a document's stored passages (before they are deleted)."""
    query = sa.select(passages.c.tokens).where(passages.c.unit == unit, passages.c.document_id == document_id)
    count(conn, unit, (row.split() for row in conn.scalars(query)), sign)


def frequencies(conn: Connection, units: Sequence[str], tokens: Sequence[str]) -> dict[str, int]:
    """Passages of ``units`` together holding each of ``tokens`` (absent tokens: 0)."""
    found: dict[str, int] = dict.fromkeys(tokens, 0)
    wanted = sorted(set(tokens))
    for start in range(0, len(wanted), _BATCH):
        query = (
            sa.select(token_counts.c.token, sa.func.sum(token_counts.c.passages))
            .where(token_counts.c.unit.in_(list(units)), token_counts.c.token.in_(wanted[start : start + _BATCH]))
            .group_by(token_counts.c.token)
        )
        found.update((token, int(n)) for token, n in conn.execute(query).all())
    return found
