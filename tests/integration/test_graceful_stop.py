"""A clean stop: SIGTERM to `troly serve` lets the question being answered finish, then saves the
index snapshots and exits. The slow answer comes from a scripted LLM that takes its time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from llm_servers import free_port
from troly_testkit import read_events

UNIT = "bo-tttt"
DELAY_S = 4.0


def slow_llm() -> FastAPI:
    """Waits DELAY_S before it answers, citing the first passage."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions() -> StreamingResponse:
        async def chunks():  # type: ignore[no-untyped-def]
            import asyncio

            await asyncio.sleep(DELAY_S)
            yield "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "Đạt 90% [1]."}}]}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


def test_sigterm_finishes_the_answer_in_flight_then_saves_the_snapshots(
    tmp_path: Path, serve: Callable[[FastAPI], AbstractContextManager[str]]
) -> None:
    corpus = tmp_path / "corpus"
    (corpus / UNIT).mkdir(parents=True)
    (corpus / "units.json").write_text(json.dumps({UNIT: "Bộ Thông tin và Truyền thông"}), encoding="utf-8")
    (corpus / UNIT / "bao-cao.txt").write_text(
        "Bộ trưởng yêu cầu trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ, công chức.", encoding="utf-8"
    )
    data = tmp_path / "data"
    port = free_port()
    with serve(slow_llm()) as llm_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TROLY_")},
            "TROLY_DATA_DIR": str(data),
            "TROLY_READER": "llm",
            "TROLY_LLM_BASE_URL": llm_url + "/v1",
            "TROLY_LLM_MODEL": "slow",
        }
        command = [sys.executable, "-m", "app.cli", "serve", "--corpus", str(corpus), "--port", str(port)]
        log = tmp_path / "serve.log"
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while True:
                assert process.poll() is None, log.read_text()
                try:  # the scripted LLM has no model list: readiness without it
                    if httpx.get(url + "/readyz", params={"llm": "false"}, timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "troly serve did not become ready"
                time.sleep(0.3)
            assert not (data / "indexes").exists() or not any((data / "indexes").iterdir())

            events: list[tuple[str, Any]] = []

            def ask() -> None:
                body = {"question": "Trợ lý ảo phải trả lời bao nhiêu phần trăm câu hỏi?", "unit": UNIT, "stream": True}
                with httpx.stream("POST", url + "/v1/ask", json=body, timeout=60) as response:
                    events.extend(read_events(response))

            asking = threading.Thread(target=ask)
            asking.start()
            time.sleep(1.0)  # the question is with the slow LLM now
            process.send_signal(signal.SIGTERM)
            asking.join(timeout=60)
            # uvicorn re-raises the signal once it has shut down cleanly, so that the exit status says why.
            assert process.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()
            assert "Application shutdown complete" in log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done", names
    assert events[-1][1]["answer"] == "Đạt 90% [1]." and events[-1][1]["reader"] == "llm"
    assert any((data / "indexes").iterdir()), "no snapshot was saved at the stop"
