"""What the browser tests serve: the real app, seeded with real reports and a real evaluation run.

The server itself is the suite's one live server (``start_server`` in tests/conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.assistant import Assistant
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory
from app.evaluation.outcomes import summarise
from app.evaluation.runner import run
from app.evaluation.targets import InProcess
from app.ingest.loaders import load_file
from app.settings import Settings
from app.store import SqlDocumentStore

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
# Two more units for the overview: one evaluated below the target (it holds other reports than the
# questions ask about), one never evaluated and empty.
OTHER_UNIT = "cuc-chuyen-doi-so"
OTHER_UNIT_NAME = "Cục Chuyển đổi số quốc gia"
OTHER_FILES = ["000_a62caa98ba70d574.txt"]
OTHER_QUESTIONS = [
    Question("c1", "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", ("90%",), OTHER_UNIT),
    Question("c2", "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", ("836",), OTHER_UNIT),
    Question("c3", "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", (), OTHER_UNIT),
]
EMPTY_UNIT = "cuc-an-toan-thong-tin"
EMPTY_UNIT_NAME = "Cục An toàn thông tin"


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
    store = assistant.store
    assert isinstance(store, SqlDocumentStore)
    history = EvalHistory(store.database)  # the evaluation history lives beside the documents
    records = run(EVAL_QUESTIONS, target)
    history.add(
        "eval/questions/browser-seed.jsonl", "corpus/bo-tttt", UNIT, target.describe(), summarise(records), records
    )
    assistant.create_unit(OTHER_UNIT, OTHER_UNIT_NAME)
    assistant.add_documents(OTHER_UNIT, [load_file(SEEDS / name) for name in OTHER_FILES])
    records = run(OTHER_QUESTIONS, target)
    summary = summarise(records)
    assert summary.answer_rate < settings.answer_rate_target, "the second unit should miss the target"
    history.add("eval/questions/browser-other.jsonl", OTHER_UNIT, OTHER_UNIT, target.describe(), summary, records)
    assistant.create_unit(EMPTY_UNIT, EMPTY_UNIT_NAME)
