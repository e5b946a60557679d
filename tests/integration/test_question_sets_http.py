"""Question sets over HTTP: uploaded as JSON or as a JSONL file, listed, deleted, audited; bad sets
refused with a JSON error and nothing stored; only admins and the unit's maintainers write."""

from __future__ import annotations

import json
from typing import Any

import pytest
from evaluation_world import ADMIN, EMPTY, MAX_UPLOAD_BYTES, OTHER, UNIT, EvaluationWorld, evaluation_world
from troly_testkit import assert_error, expect

__all__ = ["evaluation_world"]  # the fixture, imported by name

QUESTIONS = [
    {"id": "q1", "question": "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", "answers": ["90%"]},
    {"id": "q2", "question": "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", "answers": []},
]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode("utf-8")


def _upload(world: EvaluationWorld, filename: str, data: bytes, headers: dict[str, str], **fields: str) -> Any:
    files = {"file": (filename, data, "application/x-ndjson")}
    return world.client.post(f"/v1/units/{UNIT}/question-sets", files=files, data=fields, headers=headers)


def _audited(world: EvaluationWorld, action: str, target: str) -> list[dict[str, Any]]:
    log = expect(world.client.get("/v1/audit", params={"unit": UNIT}, headers=ADMIN), 200).json()
    return [e for e in log if e["action"] == action and e["target"] == target]


def test_a_json_set_is_stored_listed_and_deleted_and_each_write_audited(evaluation_world: EvaluationWorld) -> None:
    w = evaluation_world
    created = expect(
        w.client.post(
            f"/v1/units/{UNIT}/question-sets", json={"name": "Quý I/2025", "questions": QUESTIONS}, headers=w.maintainer
        ),
        201,
    ).json()
    assert set(created) == {"id", "name", "questions", "created_at"}
    assert (created["name"], created["questions"]) == ("Quý I/2025", 2)
    assert isinstance(created["id"], str) and 0 < len(created["id"]) <= 16
    assert created in w.question_sets()
    assert w.question_sets(EMPTY) == []  # another unit's list
    [added] = _audited(w, "question_set.add", created["id"])
    assert added["detail"] == {"name": "Quý I/2025", "questions": 2} and added["key_id"] != "env-admin"

    deleted = w.client.delete(f"/v1/units/{UNIT}/question-sets/{created['id']}", headers=w.maintainer)
    assert deleted.status_code == 204 and deleted.content == b""
    assert created["id"] not in [s["id"] for s in w.question_sets()]
    assert len(_audited(w, "question_set.delete", created["id"])) == 1
    again = w.client.delete(f"/v1/units/{UNIT}/question-sets/{created['id']}", headers=w.maintainer)
    assert_error(again, 404, "question_set_not_found")


def test_a_jsonl_file_is_a_set_named_after_the_file_unless_named(evaluation_world: EvaluationWorld) -> None:
    w = evaluation_world
    # The eval/ format's other keys are ignored; blank lines and a byte order mark are allowed.
    rows = [{**QUESTIONS[0], "unit": None, "kind": "fact", "source": "x.txt"}, QUESTIONS[1]]
    data = b"\xef\xbb\xbf" + _jsonl(rows[:1]) + b"\n\n" + _jsonl(rows[1:]) + b"\n"
    by_file = expect(_upload(w, "kiem-tra.quy-2.jsonl", data, ADMIN), 201).json()
    assert (by_file["name"], by_file["questions"]) == ("kiem-tra.quy-2", 2)
    named = expect(_upload(w, "bo.jsonl", data, ADMIN, name="Bộ câu hỏi quý II"), 201).json()
    assert named["name"] == "Bộ câu hỏi quý II"
    listed = w.question_sets()
    assert listed.index(named) < listed.index(by_file)  # newest first


def _set(**change: Any) -> dict[str, Any]:
    return {"name": "Bộ lỗi", "questions": [dict(q) for q in QUESTIONS], **change}


def _question(**change: Any) -> dict[str, Any]:
    return _set(questions=[{**QUESTIONS[0], **change}, QUESTIONS[1]])


BAD_JSON: dict[str, Any] = {
    "no questions": _set(questions=[]),
    "duplicate ids": _set(questions=[QUESTIONS[0], {**QUESTIONS[1], "id": "q1"}]),
    "a number as an answer": _question(answers=[90]),
    "null as an answer": _question(answers=[None]),
    "answers as one string": _question(answers="90%"),
    "no answers key": _set(questions=[{"id": "q1", "question": "Bao nhiêu?"}]),
    "a blank answer": _question(answers=["  "]),
    "an empty question": _question(question=""),
    "a blank question": _question(question=" \u200b "),
    "a question over the service's limit": _question(question="a" * 1001),
    "a number as an id": _question(id=1),
    "an empty name": _set(name=""),
    "over 5,000 questions": _set(questions=[{"id": str(i), "question": "?", "answers": []} for i in range(5001)]),
    "not an object": ["q1"],
}
BAD_FILES: dict[str, bytes] = {
    "an empty file": b"\n\n",
    "a line that is not JSON": _jsonl(QUESTIONS) + b"\n{not json",
    "a number as an answer": _jsonl([QUESTIONS[0], {**QUESTIONS[1], "answers": [1]}]),
    "duplicate ids": _jsonl([QUESTIONS[0], QUESTIONS[0]]),
    "not UTF-8": _jsonl(QUESTIONS).replace("Trợ".encode(), "Tr\xf4".encode("latin-1")),
}


@pytest.mark.parametrize("case", list(BAD_JSON) + [f"file: {c}" for c in BAD_FILES])
def test_a_bad_set_is_refused_with_a_json_422_and_nothing_is_stored(
    evaluation_world: EvaluationWorld, case: str
) -> None:
    w = evaluation_world
    before = w.question_sets()
    if case.startswith("file: "):
        response = _upload(w, "bad.jsonl", BAD_FILES[case.removeprefix("file: ")], ADMIN)
    else:
        response = w.client.post(f"/v1/units/{UNIT}/question-sets", json=BAD_JSON[case], headers=ADMIN)
    assert_error(response, 422, "invalid_input")
    assert w.question_sets() == before


def test_a_body_over_the_limit_is_413_and_a_body_of_another_type_415(evaluation_world: EvaluationWorld) -> None:
    w = evaluation_world
    before = w.question_sets()
    huge = _set(questions=[{"id": str(i), "question": "Câu hỏi " + "x" * 150, "answers": []} for i in range(4000)])
    assert len(json.dumps(huge)) > MAX_UPLOAD_BYTES
    too_large = w.client.post(f"/v1/units/{UNIT}/question-sets", json=huge, headers=ADMIN)
    assert_error(too_large, 413, "too_large")
    plain = w.client.post(
        f"/v1/units/{UNIT}/question-sets", content=_jsonl(QUESTIONS), headers={**ADMIN, "content-type": "text/plain"}
    )
    assert_error(plain, 415, "unsupported_format")
    assert w.question_sets() == before


def test_only_admins_and_the_units_maintainers_write(evaluation_world: EvaluationWorld) -> None:
    w = evaluation_world
    kept = expect(w.client.post(f"/v1/units/{UNIT}/question-sets", json=_set(), headers=ADMIN), 201).json()
    before, runs = w.question_sets(), w.evaluations()
    for headers, status in ((w.other_maintainer, 403), (w.reader, 403), ({}, 401)):
        posted = w.client.post(f"/v1/units/{UNIT}/question-sets", json=_set(), headers=headers)
        assert_error(posted, status)
        deleted = w.client.delete(f"/v1/units/{UNIT}/question-sets/{kept['id']}", headers=headers)
        assert_error(deleted, status)
        started = w.client.post(f"/v1/units/{UNIT}/evaluations", json={"question_set": kept["id"]}, headers=headers)
        assert_error(started, status)
    assert w.question_sets() == before and w.evaluations() == runs
    # The other unit's maintainer writes to that unit.
    theirs = w.client.post(f"/v1/units/{OTHER}/question-sets", json=_set(), headers=w.other_maintainer)
    expect(theirs, 201)


def test_unknown_units_sets_and_evaluations_are_404_and_an_unknown_set_to_run_409(
    evaluation_world: EvaluationWorld,
) -> None:
    w = evaluation_world
    assert_error(w.client.get("/v1/units/khong-co/question-sets"), 404, "unit_not_found")
    assert_error(w.client.post("/v1/units/khong-co/question-sets", json=_set(), headers=ADMIN), 404, "unit_not_found")
    assert_error(w.client.get("/v1/units/khong-co/evaluations"), 404, "unit_not_found")
    # A set named in the body, not the path: what is stored conflicts with the request (deleted, or never there).
    started = w.client.post(f"/v1/units/{UNIT}/evaluations", json={"question_set": "khong-co"}, headers=ADMIN)
    assert_error(started, 409, "question_set_missing")
    assert_error(w.client.get("/v1/evaluations/khong-co"), 404, "evaluation_not_found")
