"""Everything the HTTP service needs, opened once at start (``app.wiring.open_services``)."""

from __future__ import annotations

from dataclasses import dataclass

from app.access import AccessControl
from app.activity import ActivityLog
from app.assistant import Assistant
from app.evaluation.results import EvaluationResults


@dataclass(frozen=True)
class Services:
    assistant: Assistant
    activity: ActivityLog
    evaluations: EvaluationResults
    access: AccessControl
