"""The served app the streaming and OpenAI-compatible tests ask: two real seed reports in the seed
unit, a second unit with one report of its own, asking closed behind keys (so that a key matters).

Not a test module: the test modules import ``chat_world`` (the fixture) by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from troly_testkit import bearer

from app.assistant import Assistant
from app.domain import DocumentInput
from app.ingest.loaders import load_file
from app.settings import Settings

ADMIN_KEY = "chat-admin-key"
UNIT = "bo-tttt"
OTHER_UNIT = "cuc-luu-tru"
Q90 = "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?"
FACT90 = "90%"
OTHER_QUESTION = "Trung tâm Lưu trữ lịch sử tỉnh Cao Bằng đã số hóa được bao nhiêu trang tài liệu trong năm 2024?"
OTHER_FACT = "765.432"
UNANSWERABLE = "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?"
ABSTAIN = "Chưa tìm thấy thông tin trong cơ sở tri thức."
SEED_FILES = ["001_55f2a8c584a29a27.txt", "003_c1f38d621d9f314f.txt"]


@dataclass(frozen=True)
class ChatWorld:
    url: str
    key: str  # a reader key
    client: httpx.Client  # sends the reader key

    def stats(self) -> dict[str, Any]:
        response = self.client.get("/v1/stats", params={"days": 1})
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


def _seed(corpus: Any) -> Callable[[Assistant, Settings], None]:
    def seed(assistant: Assistant, _: Settings) -> None:
        names = json.loads((corpus / "units.json").read_text(encoding="utf-8"))
        assistant.create_unit(UNIT, names[UNIT])
        assistant.add_documents(UNIT, [load_file(corpus / UNIT / name) for name in SEED_FILES])
        assistant.create_unit(OTHER_UNIT, "Cục Lưu trữ")
        report = DocumentInput(
            title="Báo cáo số hóa tài liệu lưu trữ tỉnh Cao Bằng năm 2024",
            date="2024-12-20",
            text=(
                f"Trong năm 2024, Trung tâm Lưu trữ lịch sử tỉnh Cao Bằng đã số hóa được {OTHER_FACT} trang tài "
                "liệu lưu trữ, phục vụ tra cứu trực tuyến cho người dân và doanh nghiệp.\n\n"
                "Kinh phí thực hiện là 9 tỷ đồng từ ngân sách tỉnh. Dự kiến đến hết năm 2026, toàn bộ hồ sơ lưu "
                "trữ có giá trị vĩnh viễn của tỉnh sẽ được số hóa và đưa vào cơ sở dữ liệu dùng chung."
            ),
        )
        assistant.add_documents(OTHER_UNIT, [report])

    return seed


@pytest.fixture(scope="module")
def chat_world(
    tmp_path_factory: pytest.TempPathFactory,
    start_server: Callable[..., AbstractContextManager[Any]],
    corpus_dir: Any,
) -> Iterator[ChatWorld]:
    data_dir = tmp_path_factory.mktemp("chat-data")
    with start_server(data_dir, prepare=_seed(corpus_dir), admin_key=ADMIN_KEY, require_read_key=True) as served:
        with httpx.Client(base_url=served.url, timeout=120) as admin:
            created = admin.post("/v1/keys", json={"role": "reader"}, headers=bearer(ADMIN_KEY))
            assert created.status_code == 201, created.text
            key = created.json()["key"]
        with httpx.Client(base_url=served.url, timeout=120, headers=bearer(key)) as client:
            yield ChatWorld(served.url, key, client)
