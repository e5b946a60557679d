"""Prometheus metrics: what the service counts and times, and what ``GET /metrics`` serves.

One ``Metrics`` per app (``app.application.create_app`` makes it), each in its own registry, so
that several apps in one process (the tests) never collide in prometheus-client's global one.

The counters and histograms change as the service works: requests (``observe_request``, from the
API's middleware), answers (``observe_answer``, from ``Services.record_answer``) and ingestion
(``observe_ingest``, ``observe_delete``). Index sizes are read at scrape time from the assistant
being served (``watch``).

Several worker processes (gunicorn, ``uvicorn --workers``) each count on their own: with
``PROMETHEUS_MULTIPROC_DIR`` set (prometheus-client's convention) every process writes its values
to files in that directory and a scrape of any worker sums them over all of them. Index sizes stay
the scraped process's own view.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app import __version__
from app.domain import Answer
from app.errors import SearchUnavailable

if TYPE_CHECKING:
    from app.assistant import Assistant

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The unit label of a question put to every unit (no unit slug has an underscore).
ALL_UNITS = "_all"
# The route label of a request no route matched (any path: labels must stay few).
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Seconds. Requests run from a cached extractive answer (milliseconds) to an LLM's (tens of seconds).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def outcome(answer: Answer) -> str:
    """``answered``; ``fallback``: answered by the extractive reader because the LLM reader failed;
    ``abstained``: no answer (a fallback that abstains too is an abstention)."""
    if answer.abstained:
        return "abstained"
    return "fallback" if answer.reader_fallback is not None else "answered"


class Metrics:
    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        """``multiprocess_dir``: where every worker's values are (``metrics_from_environment`` reads
        ``PROMETHEUS_MULTIPROC_DIR``); prometheus-client must have been imported with that variable
        set, so that its values go to files there."""
        if multiprocess_dir is not None and not multiprocess_dir.is_dir():
            raise ValueError(f"{MULTIPROC_ENV}={multiprocess_dir} is not a directory")
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "troly_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "troly_http_request_duration_seconds",
            "HTTP request time until the last byte of the response (a whole stream for streamed answers)",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.asks = Counter(
            "troly_asks", "Questions answered, by unit, reader and outcome", ["unit", "reader", "outcome"], registry=r
        )
        self.ask_seconds = Histogram(
            "troly_ask_duration_seconds",
            "Time to a complete answer, by reader and outcome",
            ["reader", "outcome"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "troly_stage_duration_seconds",
            "Time of each stage of answering (Answer.timings_ms: embed, faiss, bm25, retrieve, answer, llm…)",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.documents = Counter(
            "troly_documents_ingested",
            "Documents ingested (add: new content; replace: new content for a document)",
            ["unit", "operation"],
            registry=r,
        )
        self.passages = Counter(
            "troly_passages_ingested", "Passages of the ingested documents", ["unit", "operation"], registry=r
        )
        self.deleted = Counter("troly_documents_deleted", "Documents deleted", ["unit"], registry=r)
        self.sizes = IndexSizes()
        r.register(self.sizes)
        if multiprocess_dir is None:
            # Per process: meaningless summed over workers, so only in single-process mode.
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    def watch(self, assistant: Assistant) -> None:
        """Index sizes (and troly_info) come from ``assistant`` from now on, read at each scrape."""
        self.sizes.assistant = assistant

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    def observe_answer(self, answer: Answer, latency_ms: float) -> None:
        result = outcome(answer)
        self.asks.labels(answer.unit or ALL_UNITS, answer.reader, result).inc()
        self.ask_seconds.labels(answer.reader, result).observe(latency_ms / 1000)
        for stage, ms in answer.timings_ms.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)

    def observe_ingest(self, unit: str, documents: int, passages: int, operation: str = "add") -> None:
        """``documents`` ingested into ``unit`` (only those stored: the same content again is none)."""
        self.documents.labels(unit, operation).inc(documents)
        self.passages.labels(unit, operation).inc(passages)

    def observe_delete(self, unit: str) -> None:
        self.deleted.labels(unit).inc()

    def exposition(self) -> tuple[bytes, str]:
        """What ``GET /metrics`` answers: the body and its content type (Prometheus' text format)."""
        return generate_latest(self.scraped()), CONTENT_TYPE_LATEST

    def scraped(self) -> CollectorRegistry:
        """This app's registry; in multiprocess mode a fresh one summing every process's files, as
        prometheus-client's documentation builds it per scrape, with this process's index sizes."""
        if self.multiprocess_dir is None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        registry.register(self.sizes)
        return registry


def metrics_from_environment() -> Metrics:
    """Multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set (docs/operations.md, *Metrics*)."""
    folder = os.environ.get(MULTIPROC_ENV)
    return Metrics(Path(folder) if folder else None)


class IndexSizes(Collector):
    """``troly_index_passages`` per unit, ``troly_units`` and ``troly_info``, computed when scraped."""

    def __init__(self) -> None:
        self.assistant: Assistant | None = None

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self.assistant))

    def _families(self, assistant: Assistant | None = None) -> Iterator[Metric]:
        passages = GaugeMetricFamily("troly_index_passages", "Passages in each unit's search indexes", labels=["unit"])
        units = GaugeMetricFamily("troly_units", "Units served")
        info = InfoMetricFamily("troly", "The running troly: its version, embedder and reader")
        if assistant is not None:
            served = assistant.list_units()
            for unit in served:
                try:
                    size = assistant.knowledge.passage_count([unit.id])
                except SearchUnavailable:  # Milvus down: the scrape still gives every other metric
                    break
                passages.add_metric([unit.id], size)
            units.add_metric([], len(served))
            info.add_metric(
                [], {"version": __version__, "embedder": assistant.embedder.name, "reader": assistant.reader_name}
            )
        yield from (passages, units, info)
