"""The served app the question-set and evaluation tests use: two real seed reports in the seed unit,
a unit with one report of its own, a small unit whose question set it cannot get right, an empty
unit; an admin key, a maintainer key for the seed unit, one for another unit, and a reader key.

Not a test module: the test modules import ``evaluation_world`` (the fixture) by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from troly_testkit import bearer, expect

from app.assistant import Assistant
from app.domain import DocumentInput
from app.ingest.loaders import load_file
from app.settings import Settings

ROOT = Path(__file__).parents[2]
ADMIN = bearer("test-admin-key")  # start_server's admin key
UNIT = "bo-tttt"
OTHER = "cuc-luu-tru"
LOW = "so-thu-nghiem"
EMPTY = "so-moi"
SEED_FILES = ["001_55f2a8c584a29a27.txt", "003_c1f38d621d9f314f.txt"]
OTHER_QUESTION = "Trung tâm Lưu trữ lịch sử tỉnh Cao Bằng đã số hóa được bao nhiêu trang tài liệu trong năm 2024?"
OTHER_FACT = "765.432"
OTHER_REPORT = DocumentInput(
    title="Báo cáo số hóa tài liệu lưu trữ tỉnh Cao Bằng năm 2024",
    date="2024-12-20",
    text=(
        f"Trong năm 2024, Trung tâm Lưu trữ lịch sử tỉnh Cao Bằng đã số hóa được {OTHER_FACT} trang tài "
        "liệu lưu trữ, phục vụ tra cứu trực tuyến cho người dân và doanh nghiệp.\n\n"
        "Kinh phí thực hiện là 9 tỷ đồng từ ngân sách tỉnh."
    ),
)
LOW_REPORT = DocumentInput(
    title="Báo cáo chữ ký số năm 2023",
    text="Trong năm 2023, Sở đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức của tỉnh.",
)
# Smaller than the default, so that a body over it is cheap to send (the 413 test).
MAX_UPLOAD_BYTES = 600_000


def seed_questions(per_source: int = 12, unanswerable: int = 8) -> list[dict[str, Any]]:
    """The first questions of eval/questions/seed.jsonl about each of SEED_FILES, and unanswerable ones."""
    rows = [json.loads(line) for line in (ROOT / "eval/questions/seed.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [r for name in SEED_FILES for r in [r for r in rows if r["source"] == name][:per_source]]
    return chosen + [r for r in rows if r["source"] is None][:unanswerable]


@dataclass(frozen=True)
class EvaluationWorld:
    url: str
    data_dir: Path
    settings: Settings
    client: httpx.Client  # no key
    maintainer: dict[str, str]  # of UNIT
    other_maintainer: dict[str, str]  # of OTHER only
    reader: dict[str, str]

    def question_sets(self, unit: str = UNIT) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = expect(self.client.get(f"/v1/units/{unit}/question-sets"), 200).json()
        return listed

    def evaluations(self, unit: str = UNIT) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = expect(self.client.get(f"/v1/units/{unit}/evaluations"), 200).json()
        return listed


def _seed(assistant: Assistant, _: Settings) -> None:
    seeds = ROOT / "corpus" / UNIT
    names = json.loads((ROOT / "corpus" / "units.json").read_text(encoding="utf-8"))
    assistant.create_unit(UNIT, names[UNIT])
    assistant.add_documents(UNIT, [load_file(seeds / name) for name in sorted(SEED_FILES)])
    assistant.create_unit(OTHER, "Cục Lưu trữ")
    assistant.add_documents(OTHER, [OTHER_REPORT])
    assistant.create_unit(LOW, "Sở thử nghiệm")
    assistant.add_documents(LOW, [LOW_REPORT])
    assistant.create_unit(EMPTY, "Sở mới thành lập")


def _key(client: httpx.Client, role: str, *units: str) -> dict[str, str]:
    created = expect(client.post("/v1/keys", json={"role": role, "units": list(units)}, headers=ADMIN), 201)
    return bearer(created.json()["key"])


@pytest.fixture(scope="module")
def evaluation_world(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[EvaluationWorld]:
    data_dir = tmp_path_factory.mktemp("evaluation-data")
    overrides = {"eval_pause_s": 0.0, "max_upload_bytes": MAX_UPLOAD_BYTES}
    with (
        start_server(data_dir, prepare=_seed, **overrides) as served,
        httpx.Client(base_url=served.url, timeout=120) as client,
    ):
        yield EvaluationWorld(
            served.url,
            data_dir,
            served.settings,
            client,
            _key(client, "maintainer", UNIT),
            _key(client, "maintainer", OTHER),
            _key(client, "reader"),
        )
