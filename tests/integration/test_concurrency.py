"""Questions asked over HTTP while documents are added, replaced and deleted, from several threads at once.

No request fails, and every citation is consistent: its text is ``text[start:end]`` of a version of its
document that was stored while the question was being answered. A document deleted (or a version
replaced) before a question was sent is never cited by it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from troly_testkit import bearer, create_unit, documents

ADMIN = bearer("test-admin-key")
UNIT = "dong-thoi"
ASKERS = 6
MAX_ASKS_PER_THREAD = 25

TOPICS = [
    (
        "Trung tâm Dữ liệu tỉnh đã số hóa {n} hồ sơ hộ tịch trong năm 2023.",
        "Trung tâm Dữ liệu tỉnh đã số hóa bao nhiêu hồ sơ hộ tịch?",
    ),
    (
        "Tổng đài 1022 đã tiếp nhận {n} cuộc gọi phản ánh của người dân trong quý I.",
        "Tổng đài 1022 đã tiếp nhận bao nhiêu cuộc gọi phản ánh?",
    ),
    (
        "Sở Thông tin và Truyền thông đã cấp {n} chứng thư chữ ký số cho cán bộ, công chức.",
        "Sở đã cấp bao nhiêu chứng thư chữ ký số?",
    ),
    (
        "Cục Bưu điện Trung ương đã chuyển phát {n} bưu gửi hành chính công trong tháng 5.",
        "Cục Bưu điện Trung ương đã chuyển phát bao nhiêu bưu gửi hành chính công?",
    ),
    (
        "Huyện Bắc Hà đã đào tạo kỹ năng số cho {n} người dân tại các thôn bản.",
        "Huyện Bắc Hà đã đào tạo kỹ năng số cho bao nhiêu người dân?",
    ),
    (
        "Trung tâm Giám sát đã gỡ bỏ {n} trang web giả mạo cơ quan nhà nước.",
        "Trung tâm Giám sát đã gỡ bỏ bao nhiêu trang web giả mạo?",
    ),
]


def _doc(topic: int, figure: str) -> dict[str, str]:
    sentence = TOPICS[topic][0].format(n=figure)
    return {"title": f"Báo cáo số {topic}", "text": f"{sentence}\n\nSố liệu do Văn phòng tổng hợp, cập nhật {figure}."}


@dataclass
class Version:
    """One stored state of a document id: its text (None once deleted), from when the write started."""

    started: float
    returned: float
    text: str | None


@dataclass
class Asked:
    sent: float
    received: float
    status: int
    body: dict[str, Any] | str


@dataclass
class Ledger:
    versions: dict[str, list[Version]] = field(default_factory=dict)
    writes: list[tuple[str, int]] = field(default_factory=list)  # (operation, status)
    asked: list[Asked] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[str]:
    with start_server(tmp_path_factory.mktemp("concurrency-data")) as served:
        yield served.url


def _write(client: httpx.Client, ledger: Ledger, op: str, topic: int, figure: str | None, ids: dict[int, str]) -> None:
    """One write; records when it started and returned, and the stored text fetched right after it."""
    started = time.monotonic()
    if op == "add":
        assert figure is not None
        response = client.post(f"/v1/units/{UNIT}/documents", json=_doc(topic, figure), headers=ADMIN)
        expected = 201
    elif op == "replace":
        assert figure is not None
        response = client.put(f"/v1/units/{UNIT}/documents/{ids[topic]}", json=_doc(topic, figure), headers=ADMIN)
        expected = 200
    else:
        response = client.delete(f"/v1/units/{UNIT}/documents/{ids[topic]}", headers=ADMIN)
        expected = 204
    returned = time.monotonic()
    ledger.writes.append((f"{op} {topic}", response.status_code))
    assert response.status_code == expected, (op, topic, response.text)
    if op == "add":
        ids[topic] = response.json()["document_id"]
    else:
        assert op == "delete" or response.json()["document_id"] == ids[topic]
    text = None
    if op != "delete":
        got = client.get(f"/v1/units/{UNIT}/documents/{ids[topic]}")
        assert got.status_code == 200, got.text
        text = got.json()["text"]
        assert figure is not None and figure in text
    else:
        assert client.get(f"/v1/units/{UNIT}/documents/{ids[topic]}").status_code == 404
    with ledger.lock:
        ledger.versions.setdefault(ids[topic], []).append(Version(started, returned, text))


def _asker(url: str, ledger: Ledger, number: int, done: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        for n in range(MAX_ASKS_PER_THREAD):
            if done.is_set():
                return
            question = TOPICS[(number + n) % len(TOPICS)][1]
            sent = time.monotonic()
            try:
                response = client.post("/v1/ask", json={"question": question, "unit": UNIT, "top_k": 5})
            except httpx.HTTPError as exc:
                with ledger.lock:
                    ledger.errors.append(f"asker {number}: {exc!r}")
                return
            received = time.monotonic()
            body = response.json() if response.status_code == 200 else response.text
            with ledger.lock:
                ledger.asked.append(Asked(sent, received, response.status_code, body))


def _consistent(ledger: Ledger, asked: Asked, citation: dict[str, Any]) -> bool:
    """The citation matches a version of its document that was stored at some moment of [sent, received]."""
    history = ledger.versions.get(citation["document_id"], [])
    for k, version in enumerate(history):
        visible_until = history[k + 1].returned if k + 1 < len(history) else math.inf
        overlaps = version.started <= asked.received and visible_until >= asked.sent
        if (
            overlaps
            and version.text is not None
            and version.text[citation["start"] : citation["end"]] == citation["text"]
        ):
            return True
    return False


def test_asking_while_documents_change_gives_consistent_citations(server: str) -> None:
    ledger = Ledger()
    ids: dict[int, str] = {}
    with httpx.Client(base_url=server, timeout=120) as client:
        create_unit(client, ADMIN, UNIT, "Đơn vị đồng thời")
        for first, first_figure in [(0, "1.101"), (1, "2.202"), (2, "3.303")]:
            _write(client, ledger, "add", first, first_figure, ids)

        done = threading.Event()
        askers = [threading.Thread(target=_asker, args=(server, ledger, i, done), daemon=True) for i in range(ASKERS)]
        for thread in askers:
            thread.start()
        operations: list[tuple[str, int, str | None]] = [
            ("add", 3, "4.404"),
            ("replace", 0, "5.505"),
            ("delete", 1, None),
            ("add", 4, "6.606"),
            ("replace", 2, "7.707"),
            ("delete", 3, None),
            ("add", 5, "8.808"),
            ("replace", 4, "9.909"),
            ("delete", 0, None),
            ("add", 1, "2.202"),  # the deleted content again: a new document with the same id
        ]
        try:
            for op, topic, figure in operations:
                _write(client, ledger, op, topic, figure, ids)
        finally:
            done.set()
            for thread in askers:
                thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in askers), "an asking thread did not finish"

        # After every write has returned: each question once more, in turn.
        for _, question in TOPICS:
            sent = time.monotonic()
            response = client.post("/v1/ask", json={"question": question, "unit": UNIT, "top_k": 5})
            ledger.asked.append(
                Asked(
                    sent,
                    time.monotonic(),
                    response.status_code,
                    response.json() if response.status_code == 200 else response.text,
                )
            )
        listed = {d["id"] for d in documents(client, UNIT)}

    assert ledger.errors == []
    assert [status for _, status in ledger.writes] == [201] * 3 + [201, 200, 204, 201, 200, 204, 201, 200, 204, 201]
    assert listed == {ids[1], ids[2], ids[4], ids[5]}
    # Added, deleted, added again under the same id.
    assert [v.text is None for v in ledger.versions[ids[1]]] == [False, True, False]
    assert len(ledger.asked) >= ASKERS + len(TOPICS)
    write_window = (
        min(v.started for vs in ledger.versions.values() for v in vs[1:] if vs[1:]),
        max(v.returned for vs in ledger.versions.values() for v in vs),
    )
    assert any(a.sent <= write_window[1] and a.received >= write_window[0] for a in ledger.asked[: -len(TOPICS)]), (
        "no question was in flight while documents changed"
    )

    bad_status = [(a.status, a.body) for a in ledger.asked if a.status != 200]
    assert bad_status == []
    inconsistent = []
    cited = 0
    for asked in ledger.asked:
        assert isinstance(asked.body, dict)
        for citation in asked.body["citations"]:
            cited += 1
            assert citation["unit"] == UNIT
            assert citation["end"] - citation["start"] == len(citation["text"])
            if not _consistent(ledger, asked, citation):
                inconsistent.append((citation["document_id"], citation["start"], citation["end"], citation["text"]))
    assert cited > 0
    assert inconsistent == []

    # The last round, asked after all writes returned, cites only what is stored now.
    final = {ids[topic]: next(v.text for v in reversed(ledger.versions[ids[topic]])) for topic in (1, 2, 4, 5)}
    for asked in ledger.asked[-len(TOPICS) :]:
        assert isinstance(asked.body, dict)
        for citation in asked.body["citations"]:
            assert citation["document_id"] in final
            text = final[citation["document_id"]]
            assert text is not None and text[citation["start"] : citation["end"]] == citation["text"]
        for gone in ("1.101", "5.505", "4.404", "3.303", "6.606"):  # deleted or replaced figures
            assert gone not in (asked.body["answer"] or "")
