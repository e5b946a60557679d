"""Evaluations run from the service over HTTP: a question set uploaded, run against the unit's live
knowledge base, polled to the end, and the same figures as ``troly eval`` in-process on the same
documents; one at a time per unit; a stop or a dead process leaves no job looking alive; the
overview lists every unit with its last evaluation, from the service or from ``troly eval --url``."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from evaluation_world import (
    ADMIN,
    EMPTY,
    LOW,
    OTHER,
    OTHER_FACT,
    OTHER_QUESTION,
    ROOT,
    SEED_FILES,
    UNIT,
    EvaluationWorld,
    evaluation_world,
    seed_questions,
)
from troly_testkit import assert_error, bearer, data_dir_database, expect

from app.evaluation.history import EvalHistory, Run
from app.service.evaluation_jobs import ORPHANED, STOPPED
from app.service.evaluation_records import EvaluationRecords

__all__ = ["evaluation_world"]  # the fixture, imported by name

MISSED = {"wrong answer", "false abstention", "false answer"}
JOB_KEYS = {
    "id",
    "unit",
    "status",
    "progress",
    "result",
    "question_set",
    "question_set_name",
    "created_at",
    "finished_at",
    "error",
}


def finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """Polls the job until it is done or failed (the deadline only guards against a hang)."""
    deadline = time.monotonic() + 600
    while (job := expect(client.get(f"/v1/evaluations/{job_id}"), 200).json())["status"] not in ("done", "failed"):
        assert set(job) == JOB_KEYS and 0 <= job["progress"] <= 1 and job["result"] is None, job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert set(job) == JOB_KEYS
    result: dict[str, Any] = job
    return result


def evaluate_over_http(client: httpx.Client, unit: str, name: str, questions: list[dict[str, Any]]) -> dict[str, Any]:
    created = expect(
        client.post(f"/v1/units/{unit}/question-sets", json={"name": name, "questions": questions}, headers=ADMIN), 201
    ).json()
    started = expect(
        client.post(f"/v1/units/{unit}/evaluations", json={"question_set": created["id"]}, headers=ADMIN), 202
    )
    job = started.json()
    assert set(job) == JOB_KEYS and job["status"] in ("queued", "running") and job["unit"] == unit
    assert (job["question_set"], job["question_set_name"], job["result"], job["finished_at"]) == (
        created["id"],
        name,
        None,
        None,
    )
    return finished(client, job["id"])


def _write_questions(path: Path, rows: list[dict[str, Any]], unit: str) -> Path:
    path.write_text("".join(json.dumps({**r, "unit": unit}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("service-eval")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no stray .env file is read by the command line
        mp.setenv("TQDM_DISABLE", "1")
        yield root


@pytest.fixture(scope="module")
def service_run(evaluation_world: EvaluationWorld) -> dict[str, Any]:
    """The seed unit evaluated by the service with seed questions about its two reports."""
    asked_before = expect(evaluation_world.client.get("/v1/stats", params={"unit": UNIT}), 200).json()["questions"]
    job = evaluate_over_http(evaluation_world.client, UNIT, "Bộ câu hỏi mẫu", seed_questions())
    job["asked_before"] = asked_before
    return job


@pytest.fixture(scope="module")
def cli_run(workspace: Path, troly_cli: Callable[..., Result]) -> Run:
    """``troly eval`` in-process on a fresh index of the same two reports, the same questions."""
    corpus = workspace / "corpus" / UNIT
    corpus.mkdir(parents=True)
    for name in SEED_FILES:
        shutil.copy(ROOT / "corpus" / UNIT / name, corpus / name)
    questions = _write_questions(workspace / "seed-subset.jsonl", seed_questions(), UNIT)
    data = workspace / "cli-data"
    result = troly_cli(data, "eval", str(questions), "--corpus", str(corpus.parent))
    assert result.exit_code == 0, result.output
    return EvalHistory(data_dir_database(data)).runs()[-1]


def test_an_evaluation_run_from_the_service_has_the_figures_of_troly_eval(
    service_run: dict[str, Any], cli_run: Run, evaluation_world: EvaluationWorld
) -> None:
    job = service_run
    assert (job["status"], job["progress"], job["error"]) == ("done", 1, None)
    assert job["finished_at"] is not None and job["finished_at"] >= job["created_at"]
    result, expected = job["result"], cli_run.summary
    assert set(result) == {"answer_rate", "false_answer_rate", "recall_at_1", "recall_at_5", "outcomes", "misses"}
    for figure in ("answer_rate", "false_answer_rate", "recall_at_1", "recall_at_5", "outcomes"):
        assert result[figure] == expected[figure], figure
    asked = seed_questions()
    assert sum(result["outcomes"].values()) == len(asked) == expected["questions"]
    assert result["outcomes"]["correct answer"] > len(asked) / 2  # a real run, not a run of abstentions
    # The misses: the CLI run's, in the set's order, with what was answered and cited.
    misses = [r for r in cli_run.records if r["outcome"] in MISSED]
    assert [(m["id"], m["outcome"], m["answer"], m["expected"]) for m in result["misses"]] == [
        (r["id"], r["outcome"], r["answer"], r["answers"]) for r in misses
    ]
    for miss, record in zip(result["misses"], misses, strict=True):
        assert miss["question"] == record["question"]
        citation = miss["citation"]
        assert (citation and citation["text"]) == record["cited"]
        if citation is not None and citation["highlight"] is not None:
            start, end = citation["highlight"]
            assert 0 <= start < end <= len(citation["text"])
    # Listed first among the unit's evaluations, as GET /v1/evaluations/{id} gives it.
    assert evaluation_world.evaluations()[0] == {k: v for k, v in job.items() if k != "asked_before"}


def test_the_run_is_in_the_evaluation_history_and_not_in_the_live_figures(
    service_run: dict[str, Any], evaluation_world: EvaluationWorld
) -> None:
    stats = expect(evaluation_world.client.get("/v1/stats", params={"unit": UNIT}), 200).json()
    last = stats["last_eval"]
    assert last["questions"] == "Bộ câu hỏi mẫu" and last["answer_rate"] == service_run["result"]["answer_rate"]
    [run] = [r for r in EvalHistory(data_dir_database(evaluation_world.data_dir)).runs() if r.id == last["run"]]
    assert run.unit == UNIT and run.target["evaluation"] == service_run["id"]
    assert run.summary["outcomes"] == service_run["result"]["outcomes"]
    # Its questions were not the civil servants': the live count did not move.
    assert stats["questions"] == service_run["asked_before"]


@pytest.fixture(scope="module")
def low_run(evaluation_world: EvaluationWorld) -> dict[str, Any]:
    """A unit evaluated by the service with answers its documents do not hold: an answer rate of 0."""
    questions = [
        {"id": "l1", "question": "Sở đã cấp bao nhiêu chứng thư chữ ký số?", "answers": ["999 tỷ đồng"]},
        {"id": "l2", "question": "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", "answers": []},
    ]
    return evaluate_over_http(evaluation_world.client, LOW, "Bộ khó", questions)


@pytest.fixture(scope="module")
def url_run(workspace: Path, troly_cli: Callable[..., Result], evaluation_world: EvaluationWorld) -> Path:
    """The other unit evaluated by ``troly eval --url`` against the service, into its history."""
    questions = _write_questions(
        workspace / "luu-tru.jsonl",
        [
            {"id": "o1", "question": OTHER_QUESTION, "answers": [OTHER_FACT]},
            {"id": "o2", "question": "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", "answers": []},
        ],
        OTHER,
    )
    result = troly_cli(evaluation_world.data_dir, "eval", str(questions), "--url", evaluation_world.url)
    assert result.exit_code == 0, result.output
    return questions


def test_the_overview_lists_every_unit_with_its_last_evaluation(
    evaluation_world: EvaluationWorld, service_run: dict[str, Any], low_run: dict[str, Any], url_run: Path
) -> None:
    w = evaluation_world
    answer = expect(w.client.post("/v1/ask", json={"question": OTHER_QUESTION, "unit": OTHER}), 200).json()
    assert OTHER_FACT in answer["answer"]
    expect(w.client.post(f"/v1/answers/{answer['id']}/feedback", json={"helpful": True}), 201)
    body = expect(w.client.get("/v1/overview"), 200).json()
    assert set(body) == {"target", "units"} and body["target"] == 0.9
    units = {u["id"]: u for u in body["units"]}
    assert sorted(units) == sorted(u["id"] for u in expect(w.client.get("/v1/units"), 200).json())
    keys = {
        "id",
        "name",
        "documents",
        "questions_asked",
        "live_answer_rate",
        "helpful_rate",
        "last_eval",
        "meets_target",
    }
    assert all(set(u) == keys for u in body["units"])

    seed = units[UNIT]
    assert (seed["documents"], seed["last_eval"]["question_set"]) == (len(SEED_FILES), "Bộ câu hỏi mẫu")
    rate = service_run["result"]["answer_rate"]
    assert seed["last_eval"]["answer_rate"] == rate and seed["meets_target"] is (rate >= 0.9)
    stats = expect(w.client.get("/v1/stats", params={"unit": UNIT}), 200).json()
    assert seed["last_eval"]["at"] == stats["last_eval"]["at"]
    assert seed["last_eval"]["false_answer_rate"] == service_run["result"]["false_answer_rate"]

    low = units[LOW]
    assert (low["last_eval"]["answer_rate"], low["last_eval"]["question_set"], low["meets_target"]) == (
        0.0,
        "Bộ khó",
        False,
    )
    assert low_run["result"]["outcomes"]["wrong answer"] + low_run["result"]["outcomes"]["false abstention"] == 1

    other = units[OTHER]  # evaluated by troly eval --url: its two questions and the one above were asked live
    assert (other["last_eval"]["question_set"], other["last_eval"]["answer_rate"]) == (str(url_run), 1.0)
    assert other["meets_target"] is True
    assert (other["questions_asked"], other["helpful_rate"], other["documents"]) == (3, 1.0, 1)
    assert 0 < other["live_answer_rate"] <= 1

    empty = units[EMPTY]
    assert (empty["documents"], empty["questions_asked"], empty["live_answer_rate"], empty["helpful_rate"]) == (
        0,
        0,
        None,
        None,
    )
    assert (empty["last_eval"], empty["meets_target"]) == (None, None)
    # days: the live figures' period; a day still holds today's questions.
    assert expect(w.client.get("/v1/overview", params={"days": 1}), 200).json() == body
    assert_error(w.client.get("/v1/overview", params={"days": 0}), 422, "invalid_input")


def test_one_evaluation_at_a_time_a_stop_fails_it_and_a_dead_process_job_fails_at_start(
    tmp_path: Path, start_server: Callable[..., AbstractContextManager[Any]]
) -> None:
    data = tmp_path / "data"

    def prepare(assistant: Any, _: Any) -> None:
        for unit in (UNIT, OTHER):
            assistant.create_unit(unit, unit)

    questions = {"name": "Bộ", "questions": [{"id": "q", "question": "Bao nhiêu?", "answers": []}]}
    # Each job pauses a minute before its first question: the first is still running when the second comes.
    with (
        start_server(data, prepare=prepare, eval_pause_s=60.0, require_read_key=True) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        sets = {
            unit: expect(client.post(f"/v1/units/{unit}/question-sets", json=questions, headers=ADMIN), 201).json()[
                "id"
            ]
            for unit in (UNIT, OTHER)
        }
        first = expect(
            client.post(f"/v1/units/{UNIT}/evaluations", json={"question_set": sets[UNIT]}, headers=ADMIN), 202
        )
        second = client.post(f"/v1/units/{UNIT}/evaluations", json={"question_set": sets[UNIT]}, headers=ADMIN)
        assert_error(second, 409, "evaluation_running")
        expect(client.post(f"/v1/units/{OTHER}/evaluations", json={"question_set": sets[OTHER]}, headers=ADMIN), 202)
        # Reading needs what reading the stats needs: here a key.
        assert_error(client.get(f"/v1/evaluations/{first.json()['id']}"), 401)
        assert_error(client.get(f"/v1/units/{UNIT}/question-sets"), 401)
        assert_error(client.get("/v1/overview"), 401)
        reader = expect(client.post("/v1/keys", json={"role": "reader"}, headers=ADMIN), 201).json()["key"]
        running = expect(client.get(f"/v1/evaluations/{first.json()['id']}", headers=bearer(reader)), 200).json()
        assert running["status"] in ("queued", "running") and running["finished_at"] is None
    # The server stopped (its lifespan ended): the job is failed, not left running.
    records = EvaluationRecords(data_dir_database(data))
    stopped = records.get(first.json()["id"])
    assert (stopped.status, stopped.error) == ("failed", STOPPED)
    # A process that died with a job running: its job is failed at the next start, and the unit is free.
    dead = records.create(UNIT, sets[UNIT], "Bộ", owner="00000000deadbeef", max_pending=8)
    records.started(dead.id)
    with start_server(data, eval_pause_s=0.0) as served, httpx.Client(base_url=served.url, timeout=60) as client:
        found = expect(client.get(f"/v1/evaluations/{dead.id}"), 200).json()
        assert (found["status"], found["error"]) == ("failed", ORPHANED) and found["finished_at"] is not None
        again = expect(
            client.post(f"/v1/units/{UNIT}/evaluations", json={"question_set": sets[UNIT]}, headers=ADMIN), 202
        )
        assert finished(client, again.json()["id"])["status"] == "done"
