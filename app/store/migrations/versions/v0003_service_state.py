"""The state troly 0.1.0 kept in SQLite files of their own, now in the one database beside the documents.

API keys and their audit (0.1.0's ``access.sqlite3``), the activity log (``activity.sqlite3``), the
evaluation history (``eval_history.sqlite3``), question sets (``question_sets.sqlite3``) and evaluation
jobs (``evaluations.sqlite3``): on PostgreSQL every replica then shares them. The tables start empty; a
data directory's old files are copied in at its first start (app.store.legacy_files), which records
each file it copied in ``imported_files``. Each table keeps its file's columns; the keys gain their
order of creation (``seq``: 0.1.0 listed them in rowid order), the question sets their length, and the
jobs the time their process last said it still runs (``beat_at``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# A row counter never reused: SQLite's INTEGER PRIMARY KEY AUTOINCREMENT, PostgreSQL's bigint sequence.
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column("hash", sa.Text(), nullable=False, unique=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("units", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.Text(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("audit_log_unit", "audit_log", ["unit", "seq"])
    op.create_table(
        "asks",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
    )
    op.create_index("asks_at", "asks", ["at"])
    op.create_table(
        "feedback",
        sa.Column("answer_id", sa.Text(), sa.ForeignKey("asks.id"), primary_key=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("helpful", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_table(
        "evaluation_runs",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("corpus", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("records", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("evaluation_runs_unit", "evaluation_runs", ["unit", "id"])
    op.create_table(
        "question_sets",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("question_count", sa.Integer(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("question_sets_unit", "question_sets", ["unit", "seq"])
    op.create_table(
        "evaluation_jobs",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("question_set", sa.Text(), nullable=False),
        sa.Column("question_set_name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("run", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("beat_at", sa.Text(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("evaluation_jobs_unit", "evaluation_jobs", ["unit", "seq"])
    op.create_index("evaluation_jobs_status", "evaluation_jobs", ["status"])
    op.create_table(
        "imported_files",
        sa.Column("digest", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "imported_files",
        "evaluation_jobs",
        "question_sets",
        "evaluation_runs",
        "feedback",
        "asks",
        "audit_log",
        "api_keys",
    ):
        op.drop_table(table)
