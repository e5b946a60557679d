"""Every table troly keeps, as SQLAlchemy Core sees them: the schema at the head of the migrations
(app/store/migrations/versions), which a test compares with what the migrations build on each backend.

One database, one schema history: the document store's tables (0001, 0002) and, from 0003, what 0.1.0
kept in files of their own beside it (API keys and their audit, the activity log, the evaluation
history, question sets and evaluation jobs), so that replicas on one PostgreSQL share all of it.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("unit", sa.Text, sa.ForeignKey("units.id"), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("date", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("passages", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    # The same content is stored once per unit, however many replicas receive it at once.
    sa.UniqueConstraint("unit", "content_hash"),
)

# The passage key is the id the vector and lexical indexes know a passage by: never reused (SQLite's
# AUTOINCREMENT, PostgreSQL's sequence), so that a key left in an index can never name another passage.
PASSAGE_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER: SQLite's rowid alias

passages = sa.Table(
    "passages",
    metadata,
    sa.Column("key", PASSAGE_KEY, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("document_id", sa.Text, sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("start", sa.Integer, nullable=False),
    sa.Column("end", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("tokens", sa.Text, nullable=False),  # the index tokens, joined by spaces
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, native byte order
    sa.Index("passages_unit_key", "unit", "key"),
    sa.Index("passages_document", "document_id"),
    sqlite_autoincrement=True,
)

# -- from 0004: how many of a unit's passages hold each index token (BM25's document frequency), kept in
# the passages' own transactions (app.store.token_counts). idf is then one indexed read, on any backend:
# Milvus can only count a token's passages by scanning for it, a round trip per token of every question.
token_counts = sa.Table(
    "token_counts",
    metadata,
    sa.Column("unit", sa.Text, primary_key=True),
    sa.Column("token", sa.Text, primary_key=True),
    sa.Column("passages", sa.Integer, nullable=False),
)


# -- from 0003: the state 0.1.0 kept in separate SQLite files (app.store.legacy_files imports them) ------
# Row counters that order rows and are never reused, as PASSAGE_KEY (SQLite's AUTOINCREMENT).
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# app.access: keys stored as SHA-256 hashes, never the keys; ``units`` a JSON list of unit ids; ``seq``
# their order of creation (listed oldest first, as 0.1.0 did by rowid).
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("hash", sa.Text, nullable=False, unique=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("units", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("revoked_at", sa.Text),
    sqlite_autoincrement=True,
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("unit", sa.Text),
    sa.Column("target", sa.Text),
    sa.Column("detail", sa.Text),  # a JSON object
    sa.Index("audit_log_unit", "unit", "seq"),
    sqlite_autoincrement=True,
)

# app.activity: every question asked over HTTP and the feedback on its answer.
asks = sa.Table(
    "asks",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("unit", sa.Text),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answered", sa.Integer, nullable=False),  # 0 or 1: summed per day
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Index("asks_at", "at"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("answer_id", sa.Text, sa.ForeignKey("asks.id"), primary_key=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("helpful", sa.Integer, nullable=False),  # 0 or 1
    sa.Column("comment", sa.Text),
)

# app.evaluation.history: every evaluation run; target, summary and records are JSON.
evaluation_runs = sa.Table(
    "evaluation_runs",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("questions", sa.Text, nullable=False),
    sa.Column("corpus", sa.Text),
    sa.Column("unit", sa.Text),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("records", sa.Text, nullable=False),
    sa.Index("evaluation_runs_unit", "unit", "id"),  # each unit's newest run (the overview)
    sqlite_autoincrement=True,
)

# app.evaluation.question_sets: ``questions`` is the set as JSON, ``question_count`` its length (listed
# without reading the questions).
question_sets = sa.Table(
    "question_sets",
    metadata,
    sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("question_count", sa.Integer, nullable=False),
    sa.Column("questions", sa.Text, nullable=False),
    sa.Index("question_sets_unit", "unit", "seq"),
    sqlite_autoincrement=True,
)

# app.service.evaluation_records: the service's evaluation jobs. ``owner`` names the process running a
# queued or running job and ``beat_at`` when it last said it still runs (app.service.process_mark).
evaluation_jobs = sa.Table(
    "evaluation_jobs",
    metadata,
    sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("question_set", sa.Text, nullable=False),
    sa.Column("question_set_name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("finished_at", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("result", sa.Text),  # the scorecard as JSON, once done
    sa.Column("run", sa.BigInteger),  # its evaluation_runs.id, once done
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("beat_at", sa.Text),
    sa.Index("evaluation_jobs_unit", "unit", "seq"),
    sa.Index("evaluation_jobs_status", "status"),
    sqlite_autoincrement=True,
)

# app.store.legacy_files: each 0.1.0 file copied in, by the digest of what was read from it, so that a
# start interrupted between the copy and the file's rename does not copy it twice.
imported_files = sa.Table(
    "imported_files",
    metadata,
    sa.Column("digest", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("imported_at", sa.Text, nullable=False),
)
