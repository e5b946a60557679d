"""Adding documents on someone's behalf: the one place a ``document.add`` is audited, for the HTTP
API and for ``troly ingest`` alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.access import AccessControl, Principal
from app.assistant import Assistant, IngestResult
from app.domain import DocumentInput


def add_documents(
    assistant: Assistant,
    access: AccessControl,
    who: Principal,
    unit: str,
    documents: Sequence[DocumentInput],
    progress: Callable[[int], None] | None = None,
) -> list[IngestResult]:
    """Adds ``documents`` to ``unit`` (the same content again is a no-op) and audits each new one."""
    results = assistant.add_documents(unit, documents, progress=progress)
    for r in results:
        if r.created:
            details: dict[str, object] = {"title": r.document.title, "passages": r.document.passages}
            access.audit(who, "document.add", unit, r.document.id, details)
    return results
