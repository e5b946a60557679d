"""Documents over real HTTP, uploaded as real files made here: .txt, .md, .html, .docx (python-docx) and .pdf.

Each upload is stored with its text (and nothing of the page furniture around it), and answers cite it.
Replacing keeps the id and swaps the content in the answers; deleting removes it from the answers at once;
the same content twice is one document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from troly_testkit import (
    ask,
    bearer,
    create_unit,
    document,
    documents,
    expect,
    make_docx,
    make_pdf,
    passages_total,
    upload,
)

ADMIN = bearer("test-admin-key")
UNIT = "so-tttt-lao-cai"


@dataclass(frozen=True)
class FileCase:
    name: str
    make: Callable[[], bytes]
    content_type: str
    fields: dict[str, str]
    title: str  # the stored title
    date: str | None
    fact: str
    question: str


TXT = (
    "Sở Thông tin và Truyền thông tỉnh Lào Cai tổng kết công tác năm 2023.\n\n"
    "Trong năm 2023, Sở đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức của tỉnh.\n\n"
    "Năm 2024, Sở đặt mục tiêu phủ sóng 4G tới 100% thôn, bản."
)
MARKDOWN = (
    "# Báo cáo tổng đài hỗ trợ người dân\n\n"
    "## Kết quả năm 2023\n\n"
    "- Tổng đài 1022 của tỉnh đã tiếp nhận 3.742 cuộc gọi phản ánh của người dân.\n"
    "- Thời gian xử lý trung bình một phản ánh là 2 ngày làm việc.\n"
)
HTML = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Trung tâm Giám sát an toàn không gian mạng</title>
<script>var maTheoDoi = "MA-THEO-DOI-9981"; document.write("Quảng cáo chèn vào");</script>
<style>.menu { color: red }</style></head>
<body>
<header><p>Cổng thông tin điện tử tỉnh Lào Cai</p></header>
<nav><a href="/">Trang chủ</a> | <a href="/tin">Tin tức</a> | <a href="/lien-he">Liên hệ với chúng tôi</a></nav>
<article>
<h1>Kết quả giám sát năm 2023</h1>
<p>Trong năm 2023, Trung tâm Giám sát đã xử lý 2.468 trang web giả mạo cơ quan nhà nước.</p>
<p>Trung tâm cũng phối hợp với các doanh nghiệp viễn thông để ngăn chặn tin nhắn rác.</p>
</article>
<aside>Bài viết liên quan: Hội nghị chuyển đổi số</aside>
<footer>Bản quyền thuộc Sở Thông tin và Truyền thông</footer>
<script>console.log("MA-CUOI-TRANG")</script>
</body></html>
"""
DOCX_BEFORE = [
    "Báo cáo phát triển hạ tầng viễn thông tỉnh Lào Cai năm 2024.",
    "Năm 2024, tỉnh đã lắp đặt 6.180 trạm phát sóng 5G trên địa bàn.",
]
DOCX_TABLE = [["Chỉ tiêu", "Kết quả"], ["Trạm phát sóng 5G", "6.180"], ["Xã có cáp quang", "152"]]
DOCX_AFTER = ["Đoạn kết: tỉnh tiếp tục mở rộng vùng phủ sóng trong năm 2025."]
PDF_LINES = [
    "Bao cao cong tac chuyen doi so nam 2023 cua huyen Bac Ha.",
    "Trong nam 2023, huyen Bac Ha da dao tao 9.315 nguoi dan ve ky nang so.",
    "Huyen tiep tuc mo rong mo hinh to cong nghe so cong dong.",
]

CASES = [
    FileCase(
        "bao-cao-chu-ky-so.txt",
        lambda: TXT.encode("utf-8"),
        "text/plain",
        {"title": "Báo cáo chữ ký số", "date": "2024-01-12"},
        "Báo cáo chữ ký số",
        "2024-01-12",
        "1.250",
        "Sở đã cấp bao nhiêu chứng thư chữ ký số cho cán bộ, công chức?",
    ),
    FileCase(
        "tong-dai-1022.md",
        lambda: MARKDOWN.encode("utf-8"),
        "text/markdown",
        {"title": "Tổng đài 1022", "date": "2024-02"},
        "Tổng đài 1022",
        "2024-02",
        "3.742",
        "Tổng đài 1022 đã tiếp nhận bao nhiêu cuộc gọi phản ánh?",
    ),
    FileCase(
        "giam-sat.html",
        lambda: HTML.encode("utf-8"),
        "text/html",
        {},
        "Trung tâm Giám sát an toàn không gian mạng",
        None,
        "2.468",
        "Trung tâm Giám sát đã xử lý bao nhiêu trang web giả mạo?",
    ),
    FileCase(
        "ha-tang-5g.docx",
        lambda: make_docx(DOCX_BEFORE, DOCX_TABLE, DOCX_AFTER, title="Hạ tầng 5G"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        {},
        "Hạ tầng 5G",
        None,
        "6.180",
        "Tỉnh đã lắp đặt bao nhiêu trạm phát sóng 5G?",
    ),
    FileCase(
        "ky-nang-so.pdf",
        lambda: make_pdf(PDF_LINES, title="Ky nang so Bac Ha"),
        "application/pdf",
        {},
        "Ky nang so Bac Ha",
        None,
        "9.315",
        "Huyen Bac Ha da dao tao bao nhieu nguoi dan ve ky nang so?",
    ),
]


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[httpx.Client]:
    with (
        start_server(tmp_path_factory.mktemp("documents-data")) as served,
        httpx.Client(base_url=served.url, timeout=60) as http,
    ):
        yield http


@pytest.fixture(scope="module")
def uploaded(client: httpx.Client) -> dict[str, httpx.Response]:
    """The five files, uploaded to one unit: each must be told apart from the four others."""
    create_unit(client, ADMIN, UNIT, "Sở TT&TT Lào Cai")
    return {
        case.name: upload(
            client, "POST", f"/v1/units/{UNIT}/documents", case.name, case.make(), ADMIN, case.fields, case.content_type
        )
        for case in CASES
    }


def _cites(answer: dict[str, Any], document_id: str) -> bool:
    return any(c["document_id"] == document_id for c in answer["citations"])


@pytest.mark.parametrize("case", CASES, ids=[c.name.rsplit(".", 1)[1] for c in CASES])
def test_an_uploaded_file_is_stored_and_cited(
    client: httpx.Client, uploaded: dict[str, httpx.Response], case: FileCase
) -> None:
    response = expect(uploaded[case.name], 201)
    created = response.json()
    assert created["created"] is True and created["passages"] >= 1
    stored = document(client, UNIT, created["document_id"])
    assert case.fact in stored["text"]
    assert stored["title"] == case.title
    assert stored["date"] == case.date
    assert stored["source"] == case.name
    assert stored["passages"] == created["passages"]
    assert created["document_id"] in [d["id"] for d in documents(client, UNIT)]

    answer = ask(client, case.question, UNIT)
    assert answer["abstained"] is False, answer
    assert case.fact in answer["answer"]
    first = answer["citations"][0]
    assert first["document_id"] == created["document_id"]
    assert first["title"] == case.title
    assert case.fact in first["text"]
    assert stored["text"][first["start"] : first["end"]] == first["text"]


def test_html_keeps_the_article_and_drops_scripts_and_page_furniture(
    client: httpx.Client, uploaded: dict[str, httpx.Response]
) -> None:
    text = document(client, UNIT, uploaded["giam-sat.html"].json()["document_id"])["text"]
    assert "Kết quả giám sát năm 2023" in text
    assert "ngăn chặn tin nhắn rác" in text
    for noise in [
        "MA-THEO-DOI",
        "maTheoDoi",
        "Quảng cáo",
        "MA-CUOI-TRANG",
        "console.log",
        "color: red",
        "Trang chủ",
        "Liên hệ với chúng tôi",
        "Cổng thông tin điện tử",
        "Bài viết liên quan",
        "Bản quyền",
        "<p>",
        "</",
        "<!doctype",
    ]:
        assert noise not in text, noise


def test_docx_text_is_in_reading_order_with_its_table(
    client: httpx.Client, uploaded: dict[str, httpx.Response]
) -> None:
    text = document(client, UNIT, uploaded["ha-tang-5g.docx"].json()["document_id"])["text"]
    order = [
        DOCX_BEFORE[0],
        DOCX_BEFORE[1],
        "Chỉ tiêu | Kết quả",
        "Trạm phát sóng 5G | 6.180",
        "Xã có cáp quang | 152",
        DOCX_AFTER[0],
    ]
    positions = [text.find(part) for part in order]
    assert -1 not in positions, (positions, text)
    assert positions == sorted(positions), text


def test_pdf_text_lines_are_extracted(client: httpx.Client, uploaded: dict[str, httpx.Response]) -> None:
    text = document(client, UNIT, uploaded["ky-nang-so.pdf"].json()["document_id"])["text"]
    for line in PDF_LINES:
        assert line in text


def test_the_same_content_twice_is_one_document(client: httpx.Client, uploaded: dict[str, httpx.Response]) -> None:
    case = CASES[0]
    first = uploaded[case.name].json()
    before, passages = documents(client, UNIT), passages_total(client)
    again = upload(
        client, "POST", f"/v1/units/{UNIT}/documents", case.name, case.make(), ADMIN, case.fields, case.content_type
    )
    assert expect(again, 200).json() == {
        "document_id": first["document_id"],
        "passages": first["passages"],
        "created": False,
    }
    # The same text under another file name, or sent as JSON, is still the same document.
    renamed = upload(client, "POST", f"/v1/units/{UNIT}/documents", "ban-sao.txt", case.make(), ADMIN)
    assert renamed.status_code == 200 and renamed.json()["document_id"] == first["document_id"]
    as_json = client.post(f"/v1/units/{UNIT}/documents", json={"title": "Bản sao", "text": TXT}, headers=ADMIN)
    assert as_json.status_code == 200 and as_json.json()["document_id"] == first["document_id"]
    assert documents(client, UNIT) == before
    assert passages_total(client) == passages


# -- replace and delete, in a unit of their own -------------------------------------------------------
OLD = (
    "Báo cáo của Cục Quan trắc Thử nghiệm về công tác quý I năm 2024.\n\n"
    "Trong quý I năm 2024, Cục Quan trắc Thử nghiệm đã lắp đặt 4.321 trạm quan trắc tần số."
)
NEW_PARAGRAPHS = [
    "Báo cáo của Cục Quan trắc Thử nghiệm về công tác quý I năm 2024, bản đã sửa đổi theo số liệu chính thức "
    "được Vụ Kế hoạch – Tài chính xác nhận sau khi rà soát toàn bộ hồ sơ nghiệm thu của các đơn vị trực thuộc. "
    "Bản này thay thế hoàn toàn bản báo cáo đã gửi trước đó và là căn cứ để tổng hợp kết quả cả năm.",
    "Trong quý I năm 2024, Cục Quan trắc Thử nghiệm đã lắp đặt 8.765 trạm quan trắc tần số trên cả nước, "
    "tập trung tại các tỉnh miền núi phía Bắc và Tây Nguyên, nơi mật độ trạm còn thấp so với bình quân chung. "
    "Kinh phí thực hiện được bố trí từ nguồn ngân sách trung ương và nguồn thu phí sử dụng tần số vô tuyến điện.",
    "Cục trưởng yêu cầu các trung tâm tần số khu vực hoàn thành việc kết nối các trạm mới với hệ thống giám sát "
    "tập trung trước ngày 30 tháng 6 năm 2024, đồng thời báo cáo định kỳ hằng tháng về tình trạng hoạt động của "
    "từng trạm, các sự cố phát sinh và đề xuất phương án khắc phục kịp thời.",
]
NEW = "\n\n".join(NEW_PARAGRAPHS)
STATIONS = "Cục Quan trắc Thử nghiệm đã lắp đặt bao nhiêu trạm quan trắc tần số trong quý I năm 2024?"


def test_replace_keeps_the_id_and_swaps_the_answer(client: httpx.Client) -> None:
    unit = create_unit(client, ADMIN, "cuc-tan-so-thay-the", "Cục Tần số")
    created = upload(
        client, "POST", f"/v1/units/{unit}/documents", "quy-1.txt", OLD.encode(), ADMIN, {"title": "Quý I"}
    )
    expect(created, 201)
    document_id, old_passages = created.json()["document_id"], created.json()["passages"]
    before = ask(client, STATIONS, unit)
    assert "4.321" in (before["answer"] or "") and _cites(before, document_id)
    total = passages_total(client)

    replaced = upload(
        client,
        "PUT",
        f"/v1/units/{unit}/documents/{document_id}",
        "quy-1-sua-doi.md",
        NEW.encode(),
        ADMIN,
        {"title": "Quý I (sửa đổi)", "date": "2024-04"},
    )
    body = expect(replaced, 200).json()
    assert body["document_id"] == document_id
    assert body["passages"] > old_passages
    stored = document(client, unit, document_id)
    assert "8.765" in stored["text"] and "4.321" not in stored["text"]
    assert (stored["title"], stored["date"], stored["source"]) == ("Quý I (sửa đổi)", "2024-04", "quy-1-sua-doi.md")
    assert stored["passages"] == body["passages"]
    assert [d["id"] for d in documents(client, unit)] == [document_id]
    assert [d["passages"] for d in documents(client, unit)] == [body["passages"]]
    assert passages_total(client) == total - old_passages + body["passages"]

    after = ask(client, STATIONS, unit, top_k=5)
    assert after["abstained"] is False and "8.765" in after["answer"]
    assert "4.321" not in after["answer"]
    assert all("4.321" not in c["text"] for c in after["citations"])
    assert all(c["document_id"] == document_id for c in after["citations"])
    assert all(stored["text"][c["start"] : c["end"]] == c["text"] for c in after["citations"])
    assert {c["title"] for c in after["citations"]} == {"Quý I (sửa đổi)"}


def test_delete_removes_the_document_from_the_answers(client: httpx.Client) -> None:
    unit = create_unit(client, ADMIN, "cuc-tan-so-xoa", "Cục Tần số")
    kept = client.post(
        f"/v1/units/{unit}/documents",
        headers=ADMIN,
        json={"title": "Hội thao", "text": "Hội thao ngành năm 2024 có 1.875 vận động viên tham dự tại Đà Nẵng."},
    )
    assert kept.status_code == 201, kept.text
    gone = upload(client, "POST", f"/v1/units/{unit}/documents", "quy-1.txt", OLD.encode(), ADMIN)
    expect(gone, 201)
    document_id, passages = gone.json()["document_id"], gone.json()["passages"]
    assert _cites(ask(client, STATIONS, unit), document_id)
    total = passages_total(client)

    deleted = client.delete(f"/v1/units/{unit}/documents/{document_id}", headers=ADMIN)
    assert deleted.status_code == 204 and deleted.content == b""
    missing = client.get(f"/v1/units/{unit}/documents/{document_id}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"
    assert [d["id"] for d in documents(client, unit)] == [kept.json()["document_id"]]
    assert passages_total(client) == total - passages

    after = ask(client, STATIONS, unit, top_k=5)
    assert not _cites(after, document_id)
    assert "4.321" not in (after["answer"] or "")
    assert all("4.321" not in c["text"] for c in after["citations"])
    # Deleting again, or replacing the deleted document, is a 404 that changes nothing.
    assert client.delete(f"/v1/units/{unit}/documents/{document_id}", headers=ADMIN).status_code == 404
    again = client.put(f"/v1/units/{unit}/documents/{document_id}", json={"text": NEW}, headers=ADMIN)
    assert again.status_code == 404 and again.json()["error"]["code"] == "document_not_found"
    assert passages_total(client) == total - passages
    # The same content can come back afterwards, as a new document again.
    back = upload(client, "POST", f"/v1/units/{unit}/documents", "quy-1.txt", OLD.encode(), ADMIN)
    assert back.status_code == 201 and back.json()["created"] is True
