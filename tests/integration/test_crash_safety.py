"""A document is wholly in or wholly absent, even when ingestion is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.settings import Settings
from app.wiring import open_assistant

pytestmark = pytest.mark.slow

SEEDS = Path(__file__).parents[2] / "corpus" / "bo-tttt"


def _documents(tmp: Path, count: int) -> Path:
    """Distinct documents cut from the seed reports."""
    folder = tmp / "docs"
    folder.mkdir()
    paragraphs = [
        p for f in sorted(SEEDS.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n") if len(p) > 200
    ]
    for i in range(count):
        chosen = [paragraphs[(i * 3 + j) % len(paragraphs)] for j in range(3)]
        (folder / f"doc-{i:03d}.txt").write_text(f"Tài liệu số {i}.\n\n" + "\n\n".join(chosen), encoding="utf-8")
    return folder


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet


def test_sigkill_mid_ingestion_leaves_a_consistent_store(tmp_path: Path) -> None:
    folder = _documents(tmp_path, 40)
    data = tmp_path / "data"
    db = data / "troly.sqlite3"
    # A finished ingestion first: it leaves an index snapshot that the killed one will make stale.
    first = tmp_path / "first"
    first.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0].read_text(encoding="utf-8")
    (first / "dau-tien.txt").write_text("Tài liệu đầu tiên.\n\n" + seed[:1500], encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "app.cli", "--data-dir", str(data), "ingest", str(first), "--unit", "t"],
        check=True,
        capture_output=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    assert (data / "indexes" / "t" / "manifest.json").exists()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--data-dir", str(data), "ingest", str(folder), "--unit", "t"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    deadline = time.monotonic() + 180
    while _count(db, "documents") < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "ingestion finished before it could be killed: give it more documents"
    process.send_signal(signal.SIGKILL)
    process.wait()

    with sqlite3.connect(db) as conn:
        documents = conn.execute("SELECT id, passages FROM documents").fetchall()
        per_document = dict(conn.execute("SELECT document_id, COUNT(*) FROM passages GROUP BY document_id").fetchall())
        orphans = conn.execute(
            "SELECT COUNT(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents)"
        ).fetchone()[0]
        passages = conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    assert 4 <= len(documents) < 41, "the kill should land in the middle of the folder"
    assert orphans == 0
    for document_id, expected in documents:
        assert per_document.get(document_id, 0) == expected, f"{document_id} is half stored"

    # At start the stale snapshot is refused and the indexes are rebuilt from the stored vectors:
    # they hold exactly the stored passages, the killed run's complete documents included.
    assistant = open_assistant(Settings(data_dir=data))
    assert assistant.passage_count() == passages
    last = documents[-1][0]
    with sqlite3.connect(db) as conn:
        text = conn.execute("SELECT text FROM passages WHERE document_id = ? ORDER BY seq", (last,)).fetchone()[0]
    assert last in {hit.passage.document_id for hit in assistant.retrieve(text, "t", 10)}
    # Ingesting again finishes the job without duplicating what survived.
    from app.ingest.loaders import iter_folder, load_file

    results = assistant.add_documents("t", [load_file(p) for p in iter_folder(folder)])
    assert sum(not r.created for r in results) == len(documents) - 1
    assert len(assistant.list_documents("t")) == 41
