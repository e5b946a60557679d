"""Everything the HTTP service needs, opened once at start (``app.wiring.open_services``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.access import AccessControl, Principal
from app.activity import ActivityLog
from app.assistant import Assistant, IngestResult
from app.domain import Answer, DocumentInput
from app.evaluation.question_sets import QuestionSets
from app.evaluation.results import EvaluationResults
from app.service.documents import add_documents
from app.service.evaluation_jobs import EvaluationJobs
from app.service.live_traffic import LiveTraffic
from app.service.metrics import Metrics
from app.service.request_notes import note_answer
from app.service.search_repair import SearchRepair


@dataclass(frozen=True)
class Services:
    assistant: Assistant
    activity: ActivityLog
    evaluations: EvaluationResults
    access: AccessControl
    question_sets: QuestionSets
    evaluation_jobs: EvaluationJobs  # evaluations run in the background (app.service.evaluation_jobs)
    traffic: LiveTraffic  # the live questions being answered, which the evaluations step aside for
    # The app's own (app.application.create_app); a fresh one for services opened without an app.
    metrics: Metrics = field(default_factory=Metrics)
    # Cluster mode only: Milvus made to hold the stored passages again after a failed write.
    search_repair: SearchRepair | None = None

    def close(self) -> None:
        """Stops the background threads: a running evaluation ends between two questions (marked
        failed, so none looks alive), and the search repair."""
        self.evaluation_jobs.close()
        if self.search_repair is not None:
            self.search_repair.close()

    def record_answer(self, answer: Answer, latency_ms: float) -> None:
        """An answer given over HTTP: into the activity log (/v1/stats) and the metrics (/metrics)."""
        self.activity.record(answer, latency_ms)
        self.metrics.observe_answer(answer, latency_ms)
        note_answer(answer)  # for the request's log line

    def add_documents(self, who: Principal, unit: str, documents: Sequence[DocumentInput]) -> list[IngestResult]:
        """``app.service.documents.add_documents`` (audited), counted in the metrics."""
        results = add_documents(self.assistant, self.access, who, unit, documents)
        created = [r.document for r in results if r.created]
        self.metrics.observe_ingest(unit, len(created), sum(d.passages for d in created))
        return results
