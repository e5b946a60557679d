"""One process per data directory (issue 15): a second `troly serve` on a directory that a running one
holds is refused with one clear line and writes nothing, the first keeps answering; after a SIGKILL the
kernel has let go of the lock and a new process starts; `--workers 2` is refused before anything loads.

The servers are real processes (`python -m app.cli serve`), as in test_graceful_stop.py."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from llm_servers import free_port
from serve_process import ServeProcess, serving, troly_env
from troly_testkit import expect

from app.domain import DocumentInput
from app.errors import DataDirInUse
from app.settings import Settings
from app.store.data_dir_lock import LOCK_FILE, DataDirLock
from app.wiring import open_assistant

UNIT = "bo-tttt"
QUESTION = "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?"
ANSWER = "Bộ trưởng yêu cầu trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ, công chức."
ADVICE = "stop it, or use another TROLY_DATA_DIR; several processes sharing one knowledge base need cluster mode"


def _ask(server: ServeProcess) -> str | None:
    body = {"question": QUESTION, "unit": UNIT, "top_k": 1}
    answer: str | None = expect(httpx.post(server.url + "/v1/ask", json=body, timeout=60), 200).json()["answer"]
    return answer


def _env(data: Path) -> dict[str, str]:
    return troly_env(data_dir=str(data))


def _troly(data: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A `troly` command that is expected to end by itself."""
    command = [sys.executable, "-m", "app.cli", *args]
    return subprocess.run(command, env=_env(data), capture_output=True, text=True, timeout=timeout, check=False)


def _serve(data: Path, log: Path, *args: str) -> AbstractContextManager[ServeProcess]:
    """`troly serve` on ``data`` in its own process, once it is ready (serve_process.serving)."""
    return serving(_env(data), log, *args)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / UNIT).mkdir(parents=True)
    (folder / "units.json").write_text(json.dumps({UNIT: "Bộ Thông tin và Truyền thông"}), encoding="utf-8")
    (folder / UNIT / "bao-cao.txt").write_text(
        ANSWER + "\n\nHội nghị giao ban quản lý nhà nước tháng 6/2024 diễn ra tại Hà Nội.", encoding="utf-8"
    )
    return folder


def _files(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``folder``: size, modification time and sha256."""
    return {
        path.relative_to(folder).as_posix(): (
            path.stat().st_size,
            path.stat().st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _refusal(stderr: str) -> str:
    """The one line a refused command prints: no traceback, the message last."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), stderr
    return lines[-1]


def test_a_second_server_on_a_held_data_dir_is_refused_and_the_first_keeps_answering(
    tmp_path: Path, corpus: Path
) -> None:
    data = tmp_path / "data"
    with _serve(data, tmp_path / "first.log", "--corpus", str(corpus)) as first:
        assert _ask(first) == ANSWER

        second = _troly(data, "serve", "--port", str(free_port()))

        assert second.returncode == 2, second.stderr
        line = _refusal(second.stderr)
        assert f"the data directory {data} is in use by another troly process (pid {first.process.pid}, since " in line
        assert ADVICE in line
        assert first.process.poll() is None, "the first server stopped"
        assert _ask(first) == ANSWER


def test_after_a_sigkill_the_kernel_has_let_go_and_a_new_server_starts(tmp_path: Path, corpus: Path) -> None:
    data = tmp_path / "data"
    with _serve(data, tmp_path / "first.log", "--corpus", str(corpus)) as first:
        assert _ask(first) == ANSWER
        os.kill(first.process.pid, signal.SIGKILL)
        assert first.process.wait(timeout=60) == -signal.SIGKILL
    # No clean stop released anything: the file still names the dead process.
    assert json.loads((data / LOCK_FILE).read_text(encoding="utf-8"))["pid"] == first.process.pid

    with _serve(data, tmp_path / "again.log") as again:
        assert _ask(again) == ANSWER  # the dead one's knowledge base, now this one's
        assert json.loads((data / LOCK_FILE).read_text(encoding="utf-8"))["pid"] == again.process.pid


def test_a_second_assistant_in_process_raises_and_writes_nothing(
    tmp_path: Path, make_fake_embedder: Callable[..., Any], settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(tmp_path / "data")
    embedder = make_fake_embedder()
    first = open_assistant(settings, embedder=embedder)
    try:
        first.create_unit(UNIT, "Bộ Thông tin và Truyền thông")
        first.add_document(UNIT, DocumentInput(title="Báo cáo", text=ANSWER))
        # No index snapshot is saved yet: a second knowledge base opened here would write one.
        before = _files(settings.data_dir)

        with pytest.raises(DataDirInUse) as refused:
            open_assistant(settings, embedder=embedder)

        assert f"the data directory {settings.data_dir} is already open in this process (pid {os.getpid()}" in (
            refused.value.message
        )
        assert _files(settings.data_dir) == before
        assert first.ask(QUESTION, UNIT).citations, "the first assistant stopped answering"
    finally:
        first.close()
    # Closed, the data directory opens again in this process.
    with open_assistant(settings, embedder=embedder) as again:
        assert [u.id for u in again.list_units()] == [UNIT]


def test_an_app_that_opened_its_own_assistant_holds_the_lock_until_it_stops(
    tmp_path: Path,
    make_fake_embedder: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    from app import wiring
    from app.application import create_app

    settings = settings_factory(tmp_path / "data")
    embedder = make_fake_embedder()
    monkeypatch.setattr(wiring, "create_embedder", lambda _: embedder)
    with TestClient(create_app(settings)) as client:  # the lifespan opens the assistant
        assert client.get("/healthz").status_code == 200
        with pytest.raises(DataDirInUse):
            open_assistant(settings, embedder=embedder)
    with open_assistant(settings, embedder=embedder):  # stopped: the lock went with it
        pass


def test_several_workers_are_refused_before_anything_loads(tmp_path: Path) -> None:
    data = tmp_path / "data"

    refused = _troly(data, "serve", "--port", str(free_port()), "--workers", "2", timeout=60)

    assert refused.returncode == 2, refused.stderr
    line = _refusal(refused.stderr)
    assert "--workers 2 needs cluster mode" in line and "each worker process would hold search indexes" in line
    assert not data.exists(), "the refused server opened its data directory"


def test_cluster_mode_processes_share_the_lock_and_exclude_an_embedded_one(tmp_path: Path) -> None:
    """Replicas searching Milvus may share a data directory (its tuned models); an embedded process there
    would keep indexes that miss their writes, so each side refuses the other."""
    first, second = DataDirLock.acquire(tmp_path, shared=True), DataDirLock.acquire(tmp_path, shared=True)
    with pytest.raises(DataDirInUse, match="in use by other troly processes \\(in cluster mode"):
        DataDirLock.acquire(tmp_path)
    first.release()
    with pytest.raises(DataDirInUse):
        DataDirLock.acquire(tmp_path)
    second.release()
    # The last shared holder gone, an embedded process may start, and then no cluster-mode one.
    with DataDirLock.acquire(tmp_path), pytest.raises(DataDirInUse, match=f"pid {os.getpid()}"):
        DataDirLock.acquire(tmp_path, shared=True)
    DataDirLock.acquire(tmp_path, shared=True).release()
