"""BM25's document frequencies kept in the database: how many of a unit's passages hold each index token.

Every write of passages changes them in its own transaction (``change``), so they are exactly the stored
passages' at every commit, for every replica at once. A write changes them with one statement whose rows
are in token order, whatever it adds and takes away: PostgreSQL's row locks on them are then taken in one
order by every writer, so that two writers wait for each other instead of deadlocking.
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


def change(
    conn: Connection, unit: str, added: Iterable[Sequence[str]] = (), removed: Iterable[Sequence[str]] = ()
) -> None:
    """The unit's counts with these passages' tokens added and those taken away, as one upsert of the net
    change per token, in token order (the only order rows are ever locked in), then the tokens no passage
    holds any more deleted (rows this transaction has just locked)."""
    delta = counted(added)
    delta.subtract(counted(removed))
    changed = [(t, n) for t, n in sorted(delta.items()) if n]
    if not changed:
        return
    rows = [{"unit": unit, "token": t, "passages": n} for t, n in changed]
    table = token_counts
    insert = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.unit, table.c.token], set_={"passages": table.c.passages + insert.excluded.passages}
    )
    for start in range(0, len(rows), _BATCH):
        conn.execute(statement, rows[start : start + _BATCH])
    emptied = [t for t, n in changed if n < 0]
    for start in range(0, len(emptied), _BATCH):
        batch = emptied[start : start + _BATCH]
        conn.execute(sa.delete(table).where(table.c.unit == unit, table.c.token.in_(batch), table.c.passages <= 0))


def stored_tokens(conn: Connection, unit: str, document_id: str) -> list[list[str]]:
    """A document's stored passages' tokens (read before they are deleted)."""
    query = sa.select(passages.c.tokens).where(passages.c.unit == unit, passages.c.document_id == document_id)
    return [row.split() for row in conn.scalars(query)]


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
