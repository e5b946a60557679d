"""The schema troly 0.1.0 created by itself, before Alembic: units, documents, passages and meta.

A data directory made by that release has these tables and no ``alembic_version``: app.store.migrate
stamps it at this revision instead of running it, so it must stay exactly that release's schema.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable=True on the TEXT primary keys, as 0.1.0's CREATE TABLE had it: SQLite lets such a key
    # hold NULL unless told otherwise (troly never writes one); on PostgreSQL a primary key is NOT NULL.
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), primary_key=True, nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Text(), primary_key=True, nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Text(), primary_key=True, nullable=True),
        sa.Column("unit", sa.Text(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("date", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("passages", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.UniqueConstraint("unit", "content_hash"),
    )
    op.create_table(
        "passages",
        # SQLite: INTEGER PRIMARY KEY AUTOINCREMENT (keys never reused); PostgreSQL: a bigint sequence.
        sa.Column(
            "key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
            nullable=True,
        ),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column("document_id", sa.Text(), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("passages_unit", "passages", ["unit"])
    op.create_index("passages_document", "passages", ["document_id"])


def downgrade() -> None:
    op.drop_table("passages")
    op.drop_table("documents")
    op.drop_table("units")
    op.drop_table("meta")
