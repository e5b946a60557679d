"""The Prometheus metrics (app/service/metrics.py, app/api/metrics.py): what each observation counts,
the route labels, the index sizes read at scrape time, apps counting apart, and several processes
adding up in multiprocess mode. The served /metrics over real HTTP: tests/integration/test_metrics_http.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app import __version__
from app.answer.model import AnswerModel
from app.application import create_app
from app.assistant import Assistant
from app.domain import Answer, DocumentInput
from app.service.metrics import ALL_UNITS, MULTIPROC_ENV, UNMATCHED, Metrics, metrics_from_environment, outcome
from app.settings import Settings
from app.store import SqlDocumentStore

ROOT = Path(__file__).parents[2]
UNIT = "cuc-vien-thong"
DOC = DocumentInput(
    title="Hội nghị giao ban tháng 6/2024",
    text=(
        "Bộ TT&TT tổ chức Hội nghị giao ban quản lý nhà nước tháng 6/2024.\n\n"
        "Bộ trưởng yêu cầu trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ, công chức."
    ),
)


def answer(
    text: str | None = "90%",
    unit: str | None = UNIT,
    reader: str = "lexical",
    fallback: str | None = None,
    timings: dict[str, float] | None = None,
) -> Answer:
    return Answer(
        id="a1",
        question="q",
        unit=unit,
        answer=text,
        confidence=0.9 if text else 0.1,
        timings_ms=timings if timings is not None else {"embed": 4.0, "retrieve": 10.0, "answer": 2.0},
        reader=reader,
        reader_fallback=fallback,
    )


def value(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value in what /metrics would serve; 0 for a sample not there yet."""
    found = metrics.scraped().get_sample_value(name, labels)
    return found if found is not None else 0.0


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


# -- what an answer counts ------------------------------------------------------------------------
def test_an_answer_counts_once_under_its_unit_reader_and_outcome() -> None:
    m = Metrics()
    m.observe_answer(answer(), 20.0)
    m.observe_answer(answer(), 30.0)
    m.observe_answer(answer(text=None), 5.0)
    m.observe_answer(answer(reader="lexical", fallback="the LLM timed out"), 7.0)
    m.observe_answer(answer(reader="llm", unit=None), 9.0)
    asks = "troly_asks_total"
    assert value(m, asks, unit=UNIT, reader="lexical", outcome="answered") == 2
    assert value(m, asks, unit=UNIT, reader="lexical", outcome="abstained") == 1
    assert value(m, asks, unit=UNIT, reader="lexical", outcome="fallback") == 1
    assert value(m, asks, unit=ALL_UNITS, reader="llm", outcome="answered") == 1
    assert value(m, "troly_ask_duration_seconds_count", reader="lexical", outcome="answered") == 2
    assert value(m, "troly_ask_duration_seconds_sum", reader="lexical", outcome="answered") == pytest.approx(0.05)


def test_outcomes() -> None:
    assert outcome(answer()) == "answered"
    assert outcome(answer(text=None)) == "abstained"
    assert outcome(answer(fallback="LLM down")) == "fallback"
    # The extractive reader behind a failed LLM that abstains too: nothing was answered.
    assert outcome(answer(text=None, fallback="LLM down")) == "abstained"


def test_every_stage_of_an_answer_is_timed_in_seconds() -> None:
    m = Metrics()
    m.observe_answer(answer(timings={"embed": 4.0, "retrieve": 10.0, "llm": 1500.0}), 1600.0)
    m.observe_answer(answer(timings={"embed": 6.0, "retrieve": 12.0}), 20.0)
    stage = "troly_stage_duration_seconds"
    assert value(m, f"{stage}_count", stage="embed") == 2
    assert value(m, f"{stage}_sum", stage="embed") == pytest.approx(0.010)
    assert value(m, f"{stage}_count", stage="llm") == 1
    assert value(m, f"{stage}_sum", stage="llm") == pytest.approx(1.5)
    # 1.5 s falls in the 2.5 s bucket and not in the 1 s one.
    assert value(m, f"{stage}_bucket", stage="llm", le="1.0") == 0
    assert value(m, f"{stage}_bucket", stage="llm", le="2.5") == 1
    assert value(m, f"{stage}_count", stage="answer") == 0


def test_requests_count_by_method_route_and_status() -> None:
    m = Metrics()
    m.observe_request("POST", "/v1/ask", 200, 0.2)
    m.observe_request("POST", "/v1/ask", 422, 0.01)
    m.observe_request("BREW", UNMATCHED, 404, 0.001)  # a method no one uses is one label, not one per name
    assert value(m, "troly_http_requests_total", method="POST", route="/v1/ask", status="200") == 1
    assert value(m, "troly_http_requests_total", method="POST", route="/v1/ask", status="422") == 1
    assert value(m, "troly_http_requests_total", method="other", route=UNMATCHED, status="404") == 1
    assert value(m, "troly_http_request_duration_seconds_count", method="POST", route="/v1/ask") == 2


def test_ingestion_counts_documents_and_passages_by_operation() -> None:
    m = Metrics()
    m.observe_ingest(UNIT, 2, 7)
    m.observe_ingest(UNIT, 0, 0)  # the same content again: nothing stored
    m.observe_ingest(UNIT, 1, 3, operation="replace")
    m.observe_delete(UNIT)
    assert value(m, "troly_documents_ingested_total", unit=UNIT, operation="add") == 2
    assert value(m, "troly_passages_ingested_total", unit=UNIT, operation="add") == 7
    assert value(m, "troly_documents_ingested_total", unit=UNIT, operation="replace") == 1
    assert value(m, "troly_passages_ingested_total", unit=UNIT, operation="replace") == 3
    assert value(m, "troly_documents_deleted_total", unit=UNIT) == 1


def test_two_metrics_count_apart_and_their_names_follow_prometheus() -> None:
    first, second = Metrics(), Metrics()  # two apps in one process: no duplicate registration, no sharing
    first.observe_answer(answer(), 10.0)
    assert value(second, "troly_asks_total", unit=UNIT, reader="lexical", outcome="answered") == 0
    body, content_type = first.exposition()
    assert content_type.startswith("text/plain")
    families = list(text_string_to_metric_families(body.decode()))
    ours = {f.name: f.type for f in families if f.name.startswith("troly_")}
    assert ours["troly_asks"] == "counter" and ours["troly_stage_duration_seconds"] == "histogram"
    for family in families:
        assert family.name.startswith(("troly_", "process_", "python_")), family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name


# -- index sizes, read when scraped -----------------------------------------------------------------
@pytest.fixture()
def fake_assistant(
    tmp_path: Path, make_fake_embedder: Callable[..., object], settings_factory: Callable[..., Settings]
) -> Iterator[Assistant]:
    settings = settings_factory(tmp_path)
    store = SqlDocumentStore.open(settings.db_url)
    assistant = Assistant(store, make_fake_embedder(), AnswerModel.load(), settings)  # type: ignore[arg-type]
    assistant.create_unit(UNIT, "Cục Viễn thông")
    assistant.create_unit("cuc-buu-dien", "Cục Bưu điện")
    yield assistant
    store.close()


def test_index_sizes_are_read_from_the_assistant_at_each_scrape(fake_assistant: Assistant) -> None:
    m = Metrics()
    assert value(m, "troly_units") == 0  # nothing watched yet: no sizes
    m.watch(fake_assistant)
    assert value(m, "troly_index_passages", unit=UNIT) == 0
    assert value(m, "troly_units") == 2
    [added] = fake_assistant.add_documents(UNIT, [DOC])
    assert added.document.passages > 0
    assert value(m, "troly_index_passages", unit=UNIT) == added.document.passages
    assert value(m, "troly_index_passages", unit="cuc-buu-dien") == 0
    info = {"version": __version__, "embedder": fake_assistant.embedder.name, "reader": "lexical"}
    assert value(m, "troly_info", **info) == 1


# -- the app: its middleware and GET /metrics -----------------------------------------------------
def test_the_app_labels_requests_by_route_template_and_counts_apart_from_another_app(
    fake_assistant: Assistant,
) -> None:
    app = create_app(fake_assistant.settings, fake_assistant)
    other = create_app(fake_assistant.settings, fake_assistant)
    with TestClient(app) as client, TestClient(other) as other_client:
        assert client.get(f"/v1/units/{UNIT}/documents").status_code == 200
        assert client.get("/v1/units/cuc-buu-dien/documents").status_code == 200
        assert client.get("/no/such/path/12345").status_code == 404
        assert client.get("/openapi.json").json()["paths"].get("/metrics") is None  # a text endpoint, not the API
        scraped = client.get("/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        other_scraped = other_client.get("/metrics").text
    got = samples(scraped.text)
    documents = frozenset({("method", "GET"), ("route", "/v1/units/{unit}/documents"), ("status", "200")})
    assert got[("troly_http_requests_total", documents)] == 2
    unmatched = frozenset({("method", "GET"), ("route", UNMATCHED), ("status", "404")})
    assert got[("troly_http_requests_total", unmatched)] == 1
    assert not any(dict(labels).get("route", "").startswith("/no/") for _, labels in got)  # never a raw path
    assert not any(dict(labels).get("route") == "/v1/units/{unit}/documents" for _, labels in samples(other_scraped))


# -- several processes: multiprocess mode ----------------------------------------------------------
WORKER = """
from app.domain import Answer
from app.service.metrics import metrics_from_environment

metrics = metrics_from_environment()
assert metrics.multiprocess_dir is not None
for text in {answers!r}:
    metrics.observe_answer(Answer(id="x", question="q", unit="{unit}", answer=text, confidence=0.5), 10.0)
metrics.observe_request("POST", "/v1/ask", 200, 0.1)
"""
SCRAPE = """
import sys
from app.service.metrics import metrics_from_environment

sys.stdout.write(metrics_from_environment().exposition()[0].decode())
"""


def run(code: str, folder: Path) -> str:
    env = {**os.environ, MULTIPROC_ENV: str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_with_a_multiprocess_directory_a_scrape_sums_every_worker(tmp_path: Path) -> None:
    run(WORKER.format(answers=["a", "b", None], unit=UNIT), tmp_path)  # one worker…
    run(WORKER.format(answers=["c"], unit=UNIT), tmp_path)  # …and another, each in its own process
    got = samples(run(SCRAPE, tmp_path))  # a third scrapes
    answered = frozenset({("unit", UNIT), ("reader", "lexical"), ("outcome", "answered")})
    abstained = frozenset({("unit", UNIT), ("reader", "lexical"), ("outcome", "abstained")})
    assert got[("troly_asks_total", answered)] == 3
    assert got[("troly_asks_total", abstained)] == 1
    ask = frozenset({("method", "POST"), ("route", "/v1/ask"), ("status", "200")})
    assert got[("troly_http_requests_total", ask)] == 2


def test_the_environment_chooses_the_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    assert metrics_from_environment().multiprocess_dir is None
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    assert metrics_from_environment().multiprocess_dir == tmp_path
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=MULTIPROC_ENV):
        metrics_from_environment()


# -- the Grafana dashboard (deploy/grafana) ---------------------------------------------------------
DASHBOARD = ROOT / "deploy" / "grafana" / "troly-dashboard.json"


def test_the_dashboard_queries_only_metrics_the_service_serves(fake_assistant: Assistant) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    m = Metrics()
    m.watch(fake_assistant)
    m.observe_answer(answer(), 10.0)
    m.observe_request("GET", "/healthz", 200, 0.01)
    m.observe_ingest(UNIT, 1, 2)
    m.observe_delete(UNIT)
    served = {s.name for f in text_string_to_metric_families(m.exposition()[0].decode()) for s in f.samples}
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queries += [v["definition"] for v in variables.values() if "definition" in v]
    used = {name for q in queries for name in re.findall(r"\btroly_[a-z_]+", q)}
    assert len(used) >= 10, used
    assert used <= served, used - served
    for p in dashboard["panels"]:
        assert p["type"] == "row" or p["datasource"]["uid"] == "${datasource}", p["title"]
