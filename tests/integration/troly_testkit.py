"""Helpers shared by the HTTP integration tests: status and error checks, requests, and real files made here.

Not a test module: imported by name (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import httpx

from app.store.database import Database, sqlite_url
from app.store.migrate import open_upgraded


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def settle_after_server_error() -> None:
    """Lets the server thread finish logging a 500 before pytest reports the failure.

    Uvicorn logs the traceback of an unhandled error just after sending the 500; formatting a traceback
    builds ASTs (Python 3.11's carets), and on this CPython (3.11.7) two threads building ASTs at once can
    raise ``SystemError: AST constructor recursion depth mismatch`` inside pytest, which aborts the whole
    session with an INTERNALERROR instead of failing one test (seen in 3 of 6 runs without this pause).
    """
    time.sleep(1.0)


def expect(response: httpx.Response, status: int) -> httpx.Response:
    """Asserts the status (waiting out a server error's logging first, see above); returns the response."""
    if response.status_code >= 500:
        settle_after_server_error()
    assert response.status_code == status, (response.status_code, response.text)
    return response


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A JSON error body ``{"error": {"code", "message"}}`` with exactly this status."""
    expect(response, status)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    if status == 401:
        assert response.headers.get("www-authenticate") == "Bearer"
    error: dict[str, Any] = body["error"]
    return error


def create_unit(client: httpx.Client, admin: dict[str, str], unit: str, name: str = "Đơn vị thử nghiệm") -> str:
    expect(client.post("/v1/units", json={"id": unit, "name": name}, headers=admin), 201)
    return unit


def documents(client: httpx.Client, unit: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = expect(client.get(f"/v1/units/{unit}/documents", headers=headers), 200)
    listed: list[dict[str, Any]] = response.json()
    return listed


def document(
    client: httpx.Client, unit: str, document_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = expect(client.get(f"/v1/units/{unit}/documents/{document_id}", headers=headers), 200)
    body: dict[str, Any] = response.json()
    return body


def passages_total(client: httpx.Client) -> int:
    response = expect(client.get("/healthz"), 200)
    total: int = response.json()["passages"]
    return total


def ask(
    client: httpx.Client, question: str, unit: str | None, top_k: int = 3, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = expect(
        client.post("/v1/ask", json={"question": question, "unit": unit, "top_k": top_k}, headers=headers), 200
    )
    body: dict[str, Any] = response.json()
    return body


# -- real files ------------------------------------------------------------------------------------
def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A small, valid PDF 1.4 with one page of Helvetica text (ASCII lines), built byte by byte.

    Every object's offset is computed, so the cross-reference table is exact.
    """
    content = "BT /F1 11 Tf 14 TL 56 780 Td " + " ".join(f"{_pdf_string(line)} Tj T*" for line in lines) + " ET"
    stream = content.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    if title is not None:
        objects.append(b"<< /Title " + _pdf_string(title).encode("latin-1") + b" /Producer (troly tests) >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out.write(b"trailer\n<< /Size %d /Root 1 0 R" % (len(objects) + 1) + info + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def make_docx(before: list[str], table: list[list[str]], after: list[str], title: str | None = None) -> bytes:
    """A real Word document (python-docx): paragraphs, a table, more paragraphs."""
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for text in before:
        document.add_paragraph(text)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, cell in enumerate(row):
            grid.cell(r, c).text = cell
    for text in after:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def upload(
    client: httpx.Client,
    method: str,
    url: str,
    name: str,
    data: bytes,
    headers: dict[str, str],
    fields: dict[str, str] | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    """A multipart upload of one file in the ``file`` field."""
    return client.request(method, url, files={"file": (name, data, content_type)}, data=fields or {}, headers=headers)


def read_events(response: httpx.Response) -> list[tuple[str, Any]]:
    """The server-sent events of a response, parsed as the SSE format defines them."""
    events: list[tuple[str, Any]] = []
    name, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].removeprefix(" "))
    assert not data, f"the stream ended inside an event: {data}"
    return events


def data_dir_database(data_dir: Path) -> Database:
    """The database a service over ``data_dir`` keeps everything in (its ``troly.sqlite3``), opened as
    the service opens it (schema at the head), to read what the service stored."""
    return open_upgraded(sqlite_url(data_dir / "troly.sqlite3"))
