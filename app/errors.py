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


class BackupFailed(TrolyError):
    """A backup or a restore could not be written (a full disk, a folder it may not write)."""

    code = "backup_failed"


class BackupInvalid(TrolyError):
    """A backup that cannot be restored: not troly's, unfinished, or a file missing or damaged."""

    code = "backup_invalid"
