"""Typed domain errors. The HTTP layer maps each to a status code in one place (app.api.errors)."""

from __future__ import annotations


class TrolyError(Exception):
    """Base of every error the core raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(TrolyError):
    code = "invalid_input"


class EmptyDocument(InvalidInput):
    code = "empty_document"


class UnsupportedFormat(TrolyError):
    code = "unsupported_format"


class DocumentTooLarge(TrolyError):
    code = "too_large"


class NotFound(TrolyError):
    code = "not_found"


class UnitNotFound(NotFound):
    code = "unit_not_found"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class AnswerNotFound(NotFound):
    code = "answer_not_found"


class QuestionSetNotFound(NotFound):
    code = "question_set_not_found"


class EvaluationNotFound(NotFound):
    code = "evaluation_not_found"


class Conflict(TrolyError):
    code = "conflict"


class UnitExists(Conflict):
    code = "unit_exists"


class QuestionSetMissing(Conflict):
    """The question set a request names (in its body, not its path) is not, or no longer, the unit's:
    what is stored conflicts with the request, as when the set was deleted after it was listed."""

    code = "question_set_missing"


class EvaluationRunning(Conflict):
    """The unit has an evaluation queued or running: one at a time per unit."""

    code = "evaluation_running"


class EvaluationQueueFull(Conflict):
    """As many evaluations are waiting as the service queues: it refuses more rather than pile them up."""

    code = "evaluation_queue_full"


class EmbedderMismatch(TrolyError):
    """The stored index was built by another embedding model than the one configured."""

    code = "embedder_mismatch"


class Unauthorized(TrolyError):
    code = "unauthorized"


class Forbidden(TrolyError):
    code = "forbidden"


class ReaderUnavailable(TrolyError):
    """The configured reader cannot run here: weights missing or not the ones it was fitted on."""

    code = "reader_unavailable"


class LLMUnavailable(TrolyError):
    """The LLM could not answer: timeout, refused connection, an error status, an unparseable
    reply, or its circuit is open. Never reaches a client: the answerer falls back to the
    extractive reader and says why in the answer (``Answer.reader_fallback``)."""

    code = "llm_unavailable"


class RateLimited(TrolyError):
    """Too many requests from one key or address for the configured limit."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotReady(TrolyError):
    """The service cannot serve yet (or any more): what is missing is in the message."""

    code = "not_ready"


class DataDirInUse(TrolyError):
    """Another process (or an assistant not closed in this one) holds the data directory's lock
    (app.store.data_dir_lock): the embedded knowledge base belongs to one process at a time. Raised at
    start, before anything is written; the command line's exit code 2 (``fail_cleanly``), never a
    request's status."""

    code = "data_dir_in_use"


class ClusterModeRequired(TrolyError):
    """What was asked needs several processes on one knowledge base (``troly serve --workers 2``),
    which the embedded backend cannot give: each process would hold indexes of its own and never see
    the others' writes. Raised at start, before anything loads; exit code 2, never a request's status."""

    code = "cluster_mode_required"


class BackupFailed(TrolyError):
    """A backup or a restore could not be written (a full disk, a folder it may not write)."""

    code = "backup_failed"


class BackupInvalid(TrolyError):
    """A backup that cannot be restored: not troly's, unfinished, or a file missing or damaged."""

    code = "backup_invalid"


class DatabaseUrlInvalid(TrolyError):
    """TROLY_DATABASE_URL is not a database troly can use: not a URL, or not SQLite or PostgreSQL, or its
    driver is not installed. Raised at start, before anything is written; exit code 2."""

    code = "database_url_invalid"


class DatabaseUnavailable(TrolyError):
    """The database cannot be reached: at start (server down, wrong credentials, a file it may not open;
    exit code 2), or while serving (PostgreSQL down or restarting: the request gets a 503 and may be
    retried). The message names it with its password hidden."""

    code = "database_unavailable"


class DatabaseTooNew(TrolyError):
    """The database's schema is at a revision this release does not know: a newer troly upgraded it.
    Refused at start with nothing changed: run that release (or a newer one) against it."""

    code = "database_too_new"


class DatabaseUnrecognised(TrolyError):
    """The database holds some of troly's tables but neither all of them nor a schema version: not a
    knowledge base any release of troly made. Refused at start with nothing changed."""

    code = "database_unrecognised"


class LegacyImportFailed(TrolyError):
    """A file troly 0.1.0 kept in the data directory (``access.sqlite3``, ``activity.sqlite3``, …) cannot
    be copied into the database at the first start: unreadable, or its rows clash with rows already
    there. Raised at start with nothing changed (app.store.legacy_files); exit code 2."""

    code = "legacy_import_failed"


class SearchUnavailable(TrolyError):
    """The search backend's server (Milvus) does not answer or refused the call: the request gets a
    503 and may be retried; the next call connects again, so the service recovers with the server."""

    code = "search_unavailable"


class SearchMisconfigured(TrolyError):
    """The configured search backend cannot serve troly: TROLY_MILVUS_URI missing, a collection of
    another shape, or an analyzer that splits pyvi's compound words. Raised at start; exit code 2."""

    code = "search_misconfigured"


class MigrationTargetNotEmpty(TrolyError):
    """``troly migrate`` was given a PostgreSQL database that already holds troly's rows, or a Milvus
    collection that already holds passages: a copy would mix two knowledge bases. Refused before
    anything is written; exit code 2."""

    code = "migration_target_not_empty"


class MigrationFailed(TrolyError):
    """``troly migrate`` could not finish: the copy into PostgreSQL failed (nothing was written then: it
    is one transaction), or the Milvus collection could not be filled, or the copy does not match its
    source. The message says which, and what to do; exit code 2."""

    code = "migration_failed"
