"""``troly backup`` taken while the real service answers questions over HTTP, ``troly restore`` into an
empty data directory, and a second service over the restored one: the same answers, word for word,
with the same citations and the same abstentions; its keys and activity log came back too."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from seed_questions import OFF_TOPIC, QUESTIONS, UNIT
from troly_testkit import bearer, create_unit, expect

from app.assistant import Assistant
from app.ingest.loaders import load_file
from app.settings import Settings

ADMIN = bearer("test-admin-key")
LATER_UNIT = "so-tttt-sao-luu"  # created over HTTP while serving: its snapshot on disk misses it
LATER_DOC = {
    "title": "Báo cáo chuyển đổi số quý I",
    "text": "Trong quý I, Sở Thông tin và Truyền thông đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức.\n\n"
    "Tỷ lệ hồ sơ trực tuyến toàn trình của tỉnh đạt 62%.",
}
ASKED: list[tuple[str, str | None]] = [
    *((question, UNIT) for question, _, _ in QUESTIONS[:10]),
    ("Sở đã cấp bao nhiêu chứng thư chữ ký số cho cán bộ, công chức?", LATER_UNIT),
    ("Tỷ lệ hồ sơ trực tuyến toàn trình đạt bao nhiêu?", None),
    *((question, None) for question in OFF_TOPIC),
]


def _answers(client: httpx.Client, key: str) -> list[dict[str, Any]]:
    """What a user sees of each answer: its text, abstention, confidence and citations (not its id)."""
    seen = []
    for question, unit in ASKED:
        body = expect(
            client.post("/v1/ask", json={"question": question, "unit": unit}, headers=bearer(key)), 200
        ).json()
        cited = [(c["unit"], c["document_id"], c["passage_id"], c["start"], c["end"]) for c in body["citations"]]
        seen.append({k: body[k] for k in ("answer", "abstained", "confidence", "reader")} | {"citations": cited})
    return seen


def _seed(seed_files: list[Path]) -> Callable[[Assistant, Settings], None]:
    def prepare(assistant: Assistant, settings: Settings) -> None:
        assistant.create_unit(UNIT, "Bộ Thông tin và Truyền thông")
        assistant.add_documents(UNIT, [load_file(p) for p in seed_files])
        assistant.save_indexes()  # as `troly ingest` leaves it: a snapshot holding exactly the stored passages

    return prepare


def test_a_backup_taken_while_answering_restores_to_identical_answers(
    tmp_path: Path,
    start_server: Callable[..., AbstractContextManager[Any]],
    troly_cli: Callable[..., Result],
    seed_files: list[Path],
) -> None:
    troly = functools.partial(troly_cli, catch_exceptions=True)
    live_dir, backup_dir, restored_dir = tmp_path / "live", tmp_path / "backup", tmp_path / "restored"
    with start_server(live_dir, prepare=_seed(seed_files), require_read_key=True) as live:
        created = troly(live_dir, "keys", "create", "--role", "reader")
        assert created.exit_code == 0, created.output
        key = re.search(r"^key\s+(\S+)$", created.stdout, re.MULTILINE).group(1)  # type: ignore[union-attr]
        with httpx.Client(base_url=live.url, timeout=120) as client:
            create_unit(client, ADMIN, LATER_UNIT, "Sở TT&TT (sao lưu)")
            expect(client.post(f"/v1/units/{LATER_UNIT}/documents", json=LATER_DOC, headers=ADMIN), 201)

        # One thread keeps asking over HTTP for as long as the backup runs.
        answered, stop = threading.Event(), threading.Event()
        asked: list[int] = []
        failures: list[str] = []

        def keep_asking() -> None:
            with httpx.Client(base_url=live.url, timeout=120) as client:
                while not stop.is_set():
                    question, unit = ASKED[len(asked) % len(ASKED)]
                    response = client.post("/v1/ask", json={"question": question, "unit": unit}, headers=bearer(key))
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text}")
                        break
                    asked.append(1)
                    answered.set()

        asker = threading.Thread(target=keep_asking, daemon=True)
        asker.start()
        try:
            assert answered.wait(300), f"no question was answered: {failures}"
            asked_before = len(asked)
            result = troly(live_dir, "backup", str(backup_dir))
        finally:
            stop.set()
            asker.join(timeout=300)
        assert failures == []
        assert result.exit_code == 0, result.output
        assert f"index snapshots left out (written since the service's last snapshot): {LATER_UNIT};" in result.stdout

        with httpx.Client(base_url=live.url, timeout=120) as client:
            expected = _answers(client, key)
            documents = {
                u: client.get(f"/v1/units/{u}/documents", headers=bearer(key)).json() for u in (UNIT, LATER_UNIT)
            }

    manifest = json.loads((backup_dir / "manifest.json").read_text(encoding="utf-8"))
    assert {u: s["snapshot"] for u, s in manifest["units"].items()} == {UNIT: True, LATER_UNIT: False}
    assert manifest["embedder"] == live.assistant.knowledge.embedder.name

    restored = troly(restored_dir, "restore", str(backup_dir))
    assert restored.exit_code == 0, restored.output
    # One file holds everything: the knowledge base, the keys, the activity log (app.store.schema).
    assert sorted(p.name for p in restored_dir.glob("*.sqlite3")) == ["troly.sqlite3"]
    with sqlite3.connect(restored_dir / "troly.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM asks").fetchone()[0] >= asked_before

    # The same reader key opens the restored service: the keys came back with the knowledge base.
    with start_server(restored_dir, require_read_key=True) as again, httpx.Client(base_url=again.url, timeout=120) as c:
        assert _answers(c, key) == expected
        assert {u: c.get(f"/v1/units/{u}/documents", headers=bearer(key)).json() for u in documents} == documents
    assert sum(not a["abstained"] for a in expected) >= 8 and sum(a["abstained"] for a in expected) >= 2


def test_restore_over_data_and_from_a_damaged_backup_fail_with_one_line(
    tmp_path: Path, troly_cli: Callable[..., Result]
) -> None:
    troly = functools.partial(troly_cli, catch_exceptions=True)
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    (backup_dir / "manifest.json").write_text("{}", encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    (data / "troly.sqlite3").write_bytes(b"")

    over_data = troly(data, "restore", str(backup_dir))
    damaged = troly(tmp_path / "empty", "restore", str(backup_dir))
    nothing = troly(tmp_path / "empty", "backup", str(tmp_path / "out"))

    for result, message in (
        (over_data, "is not empty"),
        (damaged, "manifest.json is damaged"),
        (nothing, "no knowledge base"),
    ):
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "data"]


@pytest.fixture(autouse=True)
def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env file is read by the commands' settings
    monkeypatch.setenv("TQDM_DISABLE", "1")
