"""Bad input over real HTTP: every refusal is a JSON 4xx ``{"error": {"code", "message"}}`` and stores nothing.

Never a 500: broken, encrypted, disguised and oversized files, zip bombs, bodies over the size limit (with a
Content-Length and streamed in chunks), bad ids, bad questions, bad JSON, bad content types, impossible dates.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pypdf import PdfReader, PdfWriter
from troly_testkit import assert_error, bearer, create_unit, document, documents, make_docx, make_pdf, passages_total

ADMIN = bearer("test-admin-key")
UNIT = "kho-du-lieu-loi"
FILLER = {"title": "Lịch họp", "text": "Lịch họp giao ban tuần được gửi tới các đơn vị vào chiều thứ Sáu."}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "Trong năm 2023, Sở đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức của tỉnh.\n\n"
SMALL_LIMIT = 64 * 1024


# -- servers -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[httpx.Client]:
    """A server with the default 20 MB body limit, a unit holding one document."""
    with (
        start_server(tmp_path_factory.mktemp("bad-input-data")) as served,
        httpx.Client(base_url=served.url, timeout=120) as http,
    ):
        create_unit(http, ADMIN, UNIT)
        assert http.post(f"/v1/units/{UNIT}/documents", json=FILLER, headers=ADMIN).status_code == 201
        yield http


@pytest.fixture(scope="module")
def small(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[httpx.Client]:
    """A server that refuses request bodies over 64 KiB."""
    with (
        start_server(tmp_path_factory.mktemp("small-limit-data"), max_upload_bytes=SMALL_LIMIT) as served,
        httpx.Client(base_url=served.url, timeout=120) as http,
    ):
        create_unit(http, ADMIN, UNIT)
        yield http


def _state(client: httpx.Client) -> dict[str, Any]:
    """Everything a refused request could have stored."""
    audit = client.get("/v1/audit", params={"limit": 10000}, headers=ADMIN)
    assert audit.status_code == 200
    return {
        "units": client.get("/v1/units").json(),
        "documents": {
            u["id"]: [document(client, u["id"], d["id"]) for d in documents(client, u["id"])]
            for u in client.get("/v1/units").json()
        },
        "passages": passages_total(client),
        "audit": audit.json(),
    }


def _filler_id(client: httpx.Client) -> str:
    ids: list[str] = [d["id"] for d in documents(client, UNIT) if d["title"] == FILLER["title"]]
    assert len(ids) == 1
    return ids[0]


# -- files that are not what they claim, broken, or too big ---------------------------------------------
def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _docx_with(name: str, content: bytes) -> bytes:
    """A real .docx with one part replaced."""
    good = make_docx(["Đoạn một có số 1.234."], [["Chỉ tiêu", "Kết quả"], ["Số trạm", "4.321"]], ["Đoạn kết."])
    source = zipfile.ZipFile(io.BytesIO(good))
    return _zip({info.filename: content if info.filename == name else source.read(info) for info in source.infolist()})


def _docx_table_edit(old: bytes, new: bytes) -> bytes:
    good = make_docx(["Đoạn một có số 1.234."], [["Chỉ tiêu", "Kết quả"], ["Số trạm", "4.321"]], ["Đoạn kết."])
    xml = zipfile.ZipFile(io.BytesIO(good)).read("word/document.xml")
    assert old in xml
    return _docx_with("word/document.xml", xml.replace(old, new, 1))


def _spaces_bomb(megabytes: int, level: int) -> bytes:
    """A zip whose word/document.xml is ``megabytes`` MiB of spaces, written in chunks (little memory)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w") as part:
            chunk = b" " * (1 << 20)
            for _ in range(megabytes):
                part.write(chunk)
    return out.getvalue()


def _declares_huge_size() -> bytes:
    """A stored (uncompressed) 1.1 MB part whose central directory claims 210 MB: under the ratio limit
    (210 / 1.1 < 200) but over the 200 MB unpacked limit."""
    data = bytearray(_zip({"word/document.xml": os.urandom(1_100_000)}, zipfile.ZIP_STORED))
    header = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, header + 24, 210 * 1024 * 1024)  # uncompressed size
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0].file_size == 210 * 1024 * 1024
    return bytes(data)


def _encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Tai lieu mat: 5.678 ho so."]))))
    writer.encrypt(user_password="mat-khau", owner_password="chu-so-huu", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_with_unknown_filter() -> bytes:
    """A well-formed PDF whose page content declares a compression filter that does not exist."""
    good = make_pdf(["Trong nam 2023, huyen da dao tao 9.315 nguoi dan."])
    return good.replace(b"<< /Length", b"<< /Filter /KhongCoBoLoc /Length", 1)


# Blank lines past the first 64 KiB, then text with binary in it (blank lines keep the stored text short).
NUL_AFTER_64K = b"\n" * 70_000 + TEXT.encode("utf-8") + b"\x00\x01\x02\x03\x00binary\x00\x00" * 100

W_NS = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# (case id, file name, content, expected status, expected error code)
FILES: list[tuple[str, str, Callable[[], bytes], int, str]] = [
    ("empty-file", "trong.txt", lambda: b"", 422, "invalid_input"),
    ("whitespace-file", "khoang-trang.txt", lambda: b"  \n\n\t  \r\n ", 422, "empty_document"),
    ("non-utf8-txt", "latin1.txt", lambda: "Báo cáo tài chính 2023".encode("latin-1"), 422, "invalid_input"),
    ("utf16-txt", "utf16.txt", lambda: "Báo cáo tổng kết năm 2023".encode("utf-16"), 422, "invalid_input"),
    ("nul-bytes-txt", "nhi-phan.txt", lambda: b"Van ban\x00\x00\x01\x02\x03 binary\x00", 422, "invalid_input"),
    ("nul-bytes-after-64k-txt", "nhi-phan-sau.txt", lambda: NUL_AFTER_64K, 422, "invalid_input"),
    ("pdf-that-is-text", "gia.pdf", lambda: TEXT.encode(), 422, "invalid_input"),
    ("txt-that-is-pdf", "gia.txt", lambda: make_pdf(["Bao cao 1.250 chung thu."]), 422, "invalid_input"),
    ("md-that-is-docx", "gia.md", lambda: make_docx(["Đoạn."], [["a", "b"]], ["Kết."]), 422, "invalid_input"),
    ("html-without-markup", "trang.html", lambda: TEXT.encode(), 422, "invalid_input"),
    ("docx-that-is-text", "gia.docx", lambda: TEXT.encode(), 422, "invalid_input"),
    (
        "docx-zip-without-document",
        "khong-phai-word.docx",
        lambda: _zip({"[Content_Types].xml": b"<Types/>", "noi-dung.txt": TEXT.encode()}),
        422,
        "invalid_input",
    ),
    ("docx-pk-then-junk", "hong.docx", lambda: b"PK\x03\x04" + os.urandom(4000), 422, "invalid_input"),
    (
        "docx-truncated",
        "cat-cut.docx",
        lambda: make_docx(["Đoạn."], [["a", "b"]], ["Kết."])[:3000],
        422,
        "invalid_input",
    ),
    (
        "docx-document-not-xml",
        "xml-hong.docx",
        lambda: _docx_with("word/document.xml", b"<w:document"),
        422,
        "invalid_input",
    ),
    (
        "docx-document-without-body",
        "khong-than.docx",
        lambda: _docx_with("word/document.xml", b'<?xml version="1.0"?><w:document xmlns:w="' + W_NS + b'"/>'),
        422,
        "invalid_input",
    ),
    (
        "docx-core-properties-wrong-root",
        "thuoc-tinh.docx",
        lambda: _docx_with("docProps/core.xml", b'<?xml version="1.0"?><khac/>'),
        422,
        "invalid_input",
    ),
    (
        "docx-table-vmerge-in-first-row",
        "bang-gop.docx",
        lambda: _docx_table_edit(b"<w:tcPr>", b"<w:tcPr><w:vMerge/>"),
        422,
        "invalid_input",
    ),
    (
        "docx-table-gridspan-not-a-number",
        "bang-loi.docx",
        lambda: _docx_table_edit(b"<w:tcPr>", b'<w:tcPr><w:gridSpan w:val="x"/>'),
        422,
        "invalid_input",
    ),
    ("docx-ratio-bomb", "nen-cao.docx", lambda: _spaces_bomb(5, 9), 413, "too_large"),
    ("docx-declares-210mb", "khai-lon.docx", _declares_huge_size, 413, "too_large"),
    ("pdf-encrypted", "ma-hoa.pdf", _encrypted_pdf, 422, "invalid_input"),
    ("pdf-header-then-junk", "hong.pdf", lambda: b"%PDF-1.4\n" + bytes(range(256)) * 8, 422, "invalid_input"),
    ("pdf-truncated", "cat-cut.pdf", lambda: make_pdf(["Bao cao 1.250 chung thu."])[:300], 422, "invalid_input"),
    ("pdf-unknown-filter", "bo-loc.pdf", _pdf_with_unknown_filter, 422, "invalid_input"),
    ("pdf-without-text", "trang-trang.pdf", lambda: make_pdf([]), 422, "empty_document"),
    ("exe", "cai-dat.exe", lambda: b"MZ\x90\x00\x03" + os.urandom(500), 415, "unsupported_format"),
    ("no-extension", "bao-cao", lambda: TEXT.encode(), 415, "unsupported_format"),
    (
        "doc-legacy-word",
        "bao-cao.doc",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(500),
        415,
        "unsupported_format",
    ),
]


@pytest.mark.parametrize(("name", "content", "status", "code"), [f[1:] for f in FILES], ids=[f[0] for f in FILES])
def test_a_bad_file_upload_is_refused_and_stores_nothing(
    client: httpx.Client, name: str, content: Callable[[], bytes], status: int, code: str
) -> None:
    data = content()
    before = _state(client)
    response = client.post(
        f"/v1/units/{UNIT}/documents",
        files={"file": (name, data, "application/octet-stream")},
        data={"title": "Tệp lỗi"},
        headers=ADMIN,
    )
    assert_error(response, status, code)
    assert _state(client) == before


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        f[1:]
        for f in FILES
        if f[0] in {"pdf-encrypted", "docx-pk-then-junk", "exe", "docx-ratio-bomb", "whitespace-file"}
    ],
    ids=["whitespace-file", "docx-pk-then-junk", "docx-ratio-bomb", "pdf-encrypted", "exe"],
)
def test_a_bad_file_as_replacement_leaves_the_document_as_it_was(
    client: httpx.Client, name: str, content: Callable[[], bytes], status: int, code: str
) -> None:
    document_id = _filler_id(client)
    before = _state(client)
    response = client.put(
        f"/v1/units/{UNIT}/documents/{document_id}",
        files={"file": (name, content(), "application/octet-stream")},
        headers=ADMIN,
    )
    assert_error(response, status, code)
    assert _state(client) == before


def test_a_300_mb_zip_bomb_is_refused_as_too_large(client: httpx.Client) -> None:
    bomb = _spaces_bomb(300, 1)
    assert len(bomb) < 5 * 1024 * 1024  # it is the unpacking that is too large, not the upload
    before = _state(client)
    response = client.post(f"/v1/units/{UNIT}/documents", files={"file": ("bom.docx", bomb, DOCX_TYPE)}, headers=ADMIN)
    error = assert_error(response, 413, "too_large")
    assert "bom.docx" in error["message"]
    assert _state(client) == before


# -- bad JSON documents and form fields -----------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    method: str
    path: str
    kwargs: dict[str, Any]
    status: int
    code: str | None = None


DOCS = f"/v1/units/{UNIT}/documents"
JSON = {"Content-Type": "application/json"}
DOCUMENT_REQUESTS: dict[str, Send] = {
    "empty-text": Send("POST", DOCS, {"json": {"title": "Trống", "text": ""}}, 422, "empty_document"),
    "whitespace-text": Send(
        "POST", DOCS, {"json": {"title": "Trống", "text": " \n\t\n  \u00a0 "}}, 422, "empty_document"
    ),
    "text-missing": Send("POST", DOCS, {"json": {"title": "Không có văn bản"}}, 422, "invalid_input"),
    "text-not-a-string": Send("POST", DOCS, {"json": {"text": ["một", "hai"]}}, 422, "invalid_input"),
    "json-array": Send("POST", DOCS, {"content": b'["text"]', "headers": JSON}, 422, "invalid_input"),
    "malformed-json": Send("POST", DOCS, {"content": b'{"text": "abc', "headers": JSON}, 422, "invalid_input"),
    "empty-body-json": Send("POST", DOCS, {"content": b"", "headers": JSON}, 422, "invalid_input"),
    "impossible-date": Send("POST", DOCS, {"json": {"text": TEXT, "date": "2024-02-30"}}, 422, "invalid_input"),
    "not-a-leap-day": Send("POST", DOCS, {"json": {"text": TEXT, "date": "2023-02-29"}}, 422, "invalid_input"),
    "month-13": Send("POST", DOCS, {"json": {"text": TEXT, "date": "2024-13"}}, 422, "invalid_input"),
    "day-first-date": Send("POST", DOCS, {"json": {"text": TEXT, "date": "30/01/2024"}}, 422, "invalid_input"),
    "title-over-500": Send("POST", DOCS, {"json": {"title": "T" * 501, "text": TEXT}}, 422, "invalid_input"),
    "form-impossible-date": Send(
        "POST",
        DOCS,
        {"files": {"file": ("a.txt", TEXT.encode(), "text/plain")}, "data": {"date": "2024-02-30"}},
        422,
        "invalid_input",
    ),
    "form-title-over-500": Send(
        "POST",
        DOCS,
        {"files": {"file": ("a.txt", TEXT.encode(), "text/plain")}, "data": {"title": "T" * 501}},
        422,
        "invalid_input",
    ),
    "form-without-file": Send(
        "POST", DOCS, {"files": {"tep": ("a.txt", TEXT.encode(), "text/plain")}}, 422, "invalid_input"
    ),
    "form-file-as-text-field": Send(
        "POST", DOCS, {"data": {"file": TEXT}, "files": {"x": ("x.txt", b"x")}}, 422, "invalid_input"
    ),
    "form-unknown-field": Send(
        "POST",
        DOCS,
        {"files": {"file": ("a.txt", TEXT.encode(), "text/plain")}, "data": {"tieu_de": "Báo cáo"}},
        422,
        "invalid_input",
    ),
    "form-title-twice": Send(
        "POST",
        DOCS,
        {"files": [("file", ("a.txt", TEXT.encode(), "text/plain")), ("title", (None, "A")), ("title", (None, "B"))]},
        422,
        "invalid_input",
    ),
    "form-blank-date": Send(
        "POST",
        DOCS,
        {"files": {"file": ("a.txt", TEXT.encode(), "text/plain")}, "data": {"date": " "}},
        422,
        "invalid_input",
    ),
    "form-urlencoded": Send("POST", DOCS, {"data": {"text": TEXT}}, 415, "unsupported_format"),
    "text-plain-body": Send(
        "POST", DOCS, {"content": TEXT.encode(), "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_format"
    ),
    "no-content-type": Send("POST", DOCS, {"content": TEXT.encode()}, 415, "unsupported_format"),
    "unknown-unit": Send("POST", "/v1/units/khong-ton-tai/documents", {"json": {"text": TEXT}}, 404, "unit_not_found"),
    "unknown-unit-upload": Send(
        "POST",
        "/v1/units/khong-ton-tai/documents",
        {"files": {"file": ("a.txt", TEXT.encode(), "text/plain")}},
        404,
        "unit_not_found",
    ),
    "replace-unknown-document": Send(
        "PUT", f"{DOCS}/0123456789abcdef", {"json": {"text": TEXT}}, 404, "document_not_found"
    ),
    "delete-unknown-document": Send("DELETE", f"{DOCS}/0123456789abcdef", {}, 404, "document_not_found"),
    "replace-with-empty-text": Send("PUT", f"{DOCS}/{{filler}}", {"json": {"text": "   "}}, 422, "empty_document"),
    "replace-with-impossible-date": Send(
        "PUT", f"{DOCS}/{{filler}}", {"json": {"text": TEXT, "date": "2024-02-30"}}, 422, "invalid_input"
    ),
    "replace-with-text-plain": Send(
        "PUT",
        f"{DOCS}/{{filler}}",
        {"content": b"abc", "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported_format",
    ),
    "create-unit-non-slug": Send("POST", "/v1/units", {"json": {"id": "Sở TT&TT", "name": "Sở"}}, 422, "invalid_input"),
    "create-unit-uppercase": Send("POST", "/v1/units", {"json": {"id": "So-TTTT", "name": "Sở"}}, 422, "invalid_input"),
    "create-unit-too-long": Send("POST", "/v1/units", {"json": {"id": "a" * 65, "name": "Sở"}}, 422, "invalid_input"),
    "create-unit-empty-name": Send(
        "POST", "/v1/units", {"json": {"id": "ten-trong", "name": ""}}, 422, "invalid_input"
    ),
    "create-unit-blank-name": Send(
        "POST", "/v1/units", {"json": {"id": "ten-trong", "name": "   "}}, 422, "invalid_input"
    ),
    "create-unit-invisible-name": Send(
        "POST", "/v1/units", {"json": {"id": "ten-trong", "name": "\u200b\u00ad"}}, 422, "invalid_input"
    ),
    "create-unit-id-with-newline": Send(
        "POST", "/v1/units", {"json": {"id": "ten-moi\n", "name": "Sở"}}, 422, "invalid_input"
    ),
    "create-unit-duplicate": Send("POST", "/v1/units", {"json": {"id": UNIT, "name": "Lần hai"}}, 409, "unit_exists"),
    "create-unit-malformed-json": Send(
        "POST", "/v1/units", {"content": b"{id: x}", "headers": JSON}, 422, "invalid_input"
    ),
}


@pytest.mark.parametrize("case", list(DOCUMENT_REQUESTS))
def test_a_bad_write_request_is_refused_and_stores_nothing(client: httpx.Client, case: str) -> None:
    send = DOCUMENT_REQUESTS[case]
    path = send.path.replace("{filler}", _filler_id(client))
    kwargs = dict(send.kwargs)
    kwargs["headers"] = {**ADMIN, **kwargs.get("headers", {})}
    before = _state(client)
    assert_error(client.request(send.method, path, **kwargs), send.status, send.code)
    assert _state(client) == before


# -- bad questions --------------------------------------------------------------------------------------------
QUESTION = "Sở đã cấp bao nhiêu chứng thư chữ ký số?"
ASKS: dict[str, tuple[dict[str, Any] | bytes, int, str]] = {
    "empty": ({"question": ""}, 422, "invalid_input"),
    "whitespace": ({"question": " \n\t  "}, 422, "invalid_input"),
    "over-1000-chars": ({"question": "Câu hỏi " + "x" * 993}, 422, "invalid_input"),
    "missing": ({"unit": UNIT}, 422, "invalid_input"),
    "null": ({"question": None}, 422, "invalid_input"),
    "number": ({"question": 42}, 422, "invalid_input"),
    "top-k-0": ({"question": QUESTION, "top_k": 0}, 422, "invalid_input"),
    "top-k-negative": ({"question": QUESTION, "top_k": -3}, 422, "invalid_input"),
    "top-k-51": ({"question": QUESTION, "top_k": 51}, 422, "invalid_input"),
    "top-k-text": ({"question": QUESTION, "top_k": "năm"}, 422, "invalid_input"),
    "top-k-fraction": ({"question": QUESTION, "top_k": 2.5}, 422, "invalid_input"),
    "top-k-as-text": ({"question": QUESTION, "top_k": "5"}, 422, "invalid_input"),
    "stream-as-number": ({"question": QUESTION, "stream": 0}, 422, "invalid_input"),
    "invisible-only": ({"question": "\u200b\ufeff "}, 422, "invalid_input"),
    "unknown-unit": ({"question": QUESTION, "unit": "khong-ton-tai"}, 404, "unit_not_found"),
    "malformed-json": (b'{"question": "abc"', 422, "invalid_input"),
    "not-json": (b"question=abc", 422, "invalid_input"),
    "json-array": (b'["question"]', 422, "invalid_input"),
}


@pytest.mark.parametrize("case", list(ASKS))
def test_a_bad_question_is_refused(client: httpx.Client, case: str) -> None:
    body, status, code = ASKS[case]
    if isinstance(body, bytes):
        response = client.post("/v1/ask", content=body, headers=JSON)
    else:
        response = client.post("/v1/ask", json=body)
    assert_error(response, status, code)


def test_the_question_limit_is_exactly_1000_characters(client: httpx.Client) -> None:
    longest = "Sở đã cấp bao nhiêu chứng thư chữ ký số? " + "x" * 959
    assert len(longest) == 1000
    assert client.post("/v1/ask", json={"question": longest, "unit": UNIT}).status_code == 200
    assert_error(client.post("/v1/ask", json={"question": longest + "x", "unit": UNIT}), 422, "invalid_input")
    # The limit is on the question as sent, as the schema's maxLength says: spaces count.
    assert_error(client.post("/v1/ask", json={"question": longest + " ", "unit": UNIT}), 422, "invalid_input")
    # 5.0 is an integer to JSON Schema.
    assert client.post("/v1/ask", json={"question": QUESTION, "unit": UNIT, "top_k": 2.0}).status_code == 200


def test_bad_reads_are_json_errors(client: httpx.Client) -> None:
    assert_error(client.get("/v1/units/khong-ton-tai/documents"), 404, "unit_not_found")
    assert_error(client.get(f"/v1/units/{UNIT}/documents/0123456789abcdef"), 404, "document_not_found")
    assert_error(client.get("/v1/units/khong-ton-tai/documents/0123456789abcdef"), 404, "unit_not_found")
    assert_error(client.get("/v1/audit", params={"limit": 0}, headers=ADMIN), 422, "invalid_input")
    assert_error(client.get("/v1/audit", params={"limit": "nhieu"}, headers=ADMIN), 422, "invalid_input")
    assert_error(client.delete("/v1/units", headers=ADMIN), 405)


# -- bodies over the size limit ------------------------------------------------------------------------------
def _multipart(name: str, data: bytes, boundary: str = "ranh-gioi-troly-42") -> tuple[bytes, dict[str, str]]:
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


BIG_TEXT = (TEXT * 1200).encode()  # ~100 KB, over the 64 KiB limit


def test_the_small_server_accepts_a_small_upload(small: httpx.Client) -> None:
    body, headers = _multipart("nho.txt", TEXT.encode())
    response = small.post(f"/v1/units/{UNIT}/documents", content=body, headers={**ADMIN, **headers})
    assert response.status_code == 201, response.text
    streamed = small.post(f"/v1/units/{UNIT}/documents", content=_chunks(body, 64), headers={**ADMIN, **headers})
    assert streamed.status_code == 200 and streamed.json()["created"] is False, streamed.text


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("kind", ["multipart", "json"])
def test_a_body_over_the_limit_is_413_and_stores_nothing(small: httpx.Client, kind: str, streamed: bool) -> None:
    if kind == "multipart":
        body, headers = _multipart("lon.txt", BIG_TEXT)
    else:
        body, headers = json.dumps({"title": "Lớn", "text": BIG_TEXT.decode()}).encode(), JSON
    assert len(body) > SMALL_LIMIT
    before = _state(small)
    content: bytes | Iterator[bytes] = _chunks(body) if streamed else body
    response = small.post(f"/v1/units/{UNIT}/documents", content=content, headers={**ADMIN, **headers})
    if streamed:
        assert "content-length" not in {k.lower() for k in response.request.headers}
        assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_error(response, 413, "too_large")
    assert _state(small) == before


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_question_body_over_the_limit_is_413(small: httpx.Client, streamed: bool) -> None:
    body = json.dumps({"question": "x" * (SMALL_LIMIT + 10)}).encode()
    response = small.post("/v1/ask", content=_chunks(body) if streamed else body, headers=JSON)
    assert_error(response, 413, "too_large")
