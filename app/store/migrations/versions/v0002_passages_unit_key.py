"""Passages indexed by (unit, key) instead of unit alone.

Every replica's readiness probe reads each unit's key fingerprint (the count, largest and sum of its
passages' keys: KnowledgeBase.stale_indexes). On PostgreSQL an index on (unit, key) answers it from the
index alone (an index-only scan, once autovacuum has marked the table's pages visible), where an index on
unit reads one table page per passage of the unit: for a unit of 3,000 passages among 60,000, 1.1 ms
and no table page against 4.7 ms and 3,000 table pages, in memory (PostgreSQL 18). SQLite's index on
unit already holds the key, its rowid: there the change costs nothing and gains nothing.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("passages_unit_key", "passages", ["unit", "key"])
    op.drop_index("passages_unit", table_name="passages")


def downgrade() -> None:
    op.create_index("passages_unit", "passages", ["unit"])
    op.drop_index("passages_unit_key", table_name="passages")
