"""BM25's document frequencies in the database: how many of a unit's passages hold each index token.

Kept by every write of passages from now on (app.store.token_counts); counted here once from the stored
passages' tokens, so that a knowledge base made by an earlier release has them too.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "token_counts",
        sa.Column("unit", sa.Text(), primary_key=True),
        sa.Column("token", sa.Text(), primary_key=True),
        sa.Column("passages", sa.Integer(), nullable=False),
    )
    conn = op.get_bind()
    stored = sa.table("passages", sa.column("unit", sa.Text()), sa.column("tokens", sa.Text()))
    counts = sa.table(
        "token_counts", sa.column("unit", sa.Text()), sa.column("token", sa.Text()), sa.column("passages", sa.Integer())
    )
    for unit in conn.scalars(sa.select(stored.c.unit).distinct()).all():
        counted: Counter[str] = Counter()
        for tokens in conn.scalars(sa.select(stored.c.tokens).where(stored.c.unit == unit)):
            counted.update(set(tokens.split()))
        rows = [{"unit": unit, "token": t, "passages": n} for t, n in sorted(counted.items())]
        for start in range(0, len(rows), BATCH):
            conn.execute(sa.insert(counts), rows[start : start + BATCH])


def downgrade() -> None:
    op.drop_table("token_counts")
