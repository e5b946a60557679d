"""Text out of uploaded files: .txt, .md, .html, .docx, .pdf, each with a maintained parser.

Every parser checks that the bytes are what the extension claims, and refuses with a
typed error (nothing is stored) when they are not, when the file is broken or encrypted,
or when a compressed file would unpack to more than the allowed size.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from app.errors import DocumentTooLarge, InvalidInput, UnsupportedFormat

# A .docx is a zip: refuse archives that would unpack past this, or that compress too well.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200


@dataclass(frozen=True)
class ParsedFile:
    text: str
    title: str | None  # the file's own title (HTML <title>, document properties), if any


def decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise InvalidInput(f"{name}: binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _looks_like_other_format(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return "PDF"
    if data.startswith(b"PK\x03\x04"):
        return "zip (Office) archive"
    return None


def _plain(data: bytes, name: str) -> ParsedFile:
    other = _looks_like_other_format(data)
    if other:
        raise InvalidInput(f"{name}: the content is a {other}, not text")
    return ParsedFile(decode_text(data, name), None)


def _html(data: bytes, name: str) -> ParsedFile:
    from bs4 import BeautifulSoup

    other = _looks_like_other_format(data)
    if other:
        raise InvalidInput(f"{name}: the content is a {other}, not HTML")
    markup = decode_text(data, name)
    if not re.search(r"<\s*[a-zA-Z!]", markup):
        raise InvalidInput(f"{name}: no HTML markup found")
    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    if soup.title:
        soup.title.decompose()
    body = soup.body or soup
    text = body.get_text("\n", strip=True)
    return ParsedFile(text, title or None)


def _check_zip(data: bytes, name: str, max_unpacked: int) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(f"{name}: not a valid .docx (broken zip archive)") from exc
    unpacked = sum(e.file_size for e in entries)
    packed = sum(e.compress_size for e in entries) or 1
    if unpacked > max_unpacked or unpacked / packed > MAX_COMPRESSION_RATIO:
        raise DocumentTooLarge(
            f"{name}: would unpack to {unpacked:,} bytes (ratio {unpacked / packed:.0f}:1); refused as a zip bomb"
        )
    if "word/document.xml" not in archive.namelist():
        raise InvalidInput(f"{name}: a zip archive but not a Word document")
    return archive


def _docx(data: bytes, name: str, max_unpacked: int) -> ParsedFile:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not data.startswith(b"PK\x03\x04"):
        raise InvalidInput(f"{name}: the content is not a .docx (zip) file")
    _check_zip(data, name, max_unpacked)
    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        # Body paragraphs and tables in reading order.
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(block.text)
            elif isinstance(block, Table):
                for row in block.rows:
                    cells = [c.text.strip() for c in row.cells]
                    lines.append(" | ".join(dict.fromkeys(c for c in cells if c)))
        title = (document.core_properties.title or "").strip() or None
    except Exception as exc:  # python-docx raises many kinds (lxml, KeyError, ValueError...) on corrupt parts
        raise InvalidInput(f"{name}: cannot read the Word document ({type(exc).__name__})") from exc
    return ParsedFile("\n".join(lines), title)


def _pdf(data: bytes, name: str) -> ParsedFile:
    from pypdf import PdfReader

    if not data.lstrip()[:5] == b"%PDF-":
        raise InvalidInput(f"{name}: the content is not a PDF")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidInput(f"{name}: the PDF is encrypted; upload an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = (meta.title if meta and meta.title else "") or None
    except InvalidInput:
        raise
    except Exception as exc:  # pypdf raises PdfReadError, DependencyError, NotImplementedError, KeyError...
        raise InvalidInput(f"{name}: broken PDF ({type(exc).__name__})") from exc
    return ParsedFile("\n\n".join(p.strip() for p in pages), title)


PARSERS: dict[str, Callable[[bytes, str, int], ParsedFile]] = {
    ".txt": lambda d, n, _: _plain(d, n),
    ".md": lambda d, n, _: _plain(d, n),
    ".html": lambda d, n, _: _html(d, n),
    ".htm": lambda d, n, _: _html(d, n),
    ".docx": _docx,
    ".pdf": lambda d, n, _: _pdf(d, n),
}
SUPPORTED_SUFFIXES = frozenset(PARSERS)


def parse_file(name: str, data: bytes, max_unpacked: int = MAX_UNPACKED_BYTES) -> ParsedFile:
    suffix = PurePath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFormat(f"{name}: unsupported file type {suffix or '(none)'}; supported: {supported}")
    if not data:
        raise InvalidInput(f"{name}: the file is empty")
    return parser(data, name, max_unpacked)
