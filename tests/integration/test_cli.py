"""The ``troly`` command line, driven in-process through click's CliRunner, with the real model loaded
once for the session (``troly_cli``), not once per command."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

UNIT = "so-tttt-thu"
UNIT_NAME = "Sở TT&TT thử nghiệm"
REPORT = (
    "Sở Thông tin và Truyền thông tỉnh Hoà Bình tổ chức hội nghị tổng kết công tác năm 2023 vào ngày 12/1/2024.\n\n"
    "Trong năm 2023, Sở đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức của tỉnh. "
    "Tỷ lệ hồ sơ trực tuyến toàn trình đạt 62%.\n\n"
    "Năm 2024, Sở đặt mục tiêu phủ sóng 4G tới 100% thôn, bản trên địa bàn tỉnh.\n"
)
QUESTION = "Sở đã cấp bao nhiêu chứng thư chữ ký số cho cán bộ, công chức?"
FACT = "1.250"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A tiny corpus (one unit folder, one Vietnamese .txt) and an empty data directory."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    (corpus / UNIT).mkdir(parents=True)
    (corpus / UNIT / "bao-cao-tong-ket.txt").write_text(REPORT, encoding="utf-8")
    (corpus / UNIT / "README.md").write_text("Tài liệu mô tả thư mục, không phải dữ liệu.\n", encoding="utf-8")
    (corpus / "units.json").write_text(json.dumps({UNIT: UNIT_NAME}, ensure_ascii=False), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no stray .env file is read
        mp.setenv("TQDM_DISABLE", "1")
        yield corpus, root / "data"


@pytest.fixture(scope="module")
def troly(troly_cli: Callable[..., Result]) -> Callable[..., Result]:
    """The command line on the session's model; exceptions are caught, as a user would see them."""
    return functools.partial(troly_cli, catch_exceptions=True)


@pytest.fixture(scope="module")
def ingested(workspace: tuple[Path, Path], troly: Callable[..., Result]) -> tuple[Result, Result, Path]:
    corpus, data = workspace
    first = troly(data, "ingest", str(corpus))
    second = troly(data, "ingest", str(corpus))
    return first, second, data


def test_ingest_prints_the_count_and_again_reports_nothing_new(ingested: tuple[Result, Result, Path]) -> None:
    first, second, _ = ingested
    assert first.exit_code == 0, first.output
    assert f"{UNIT}: 1 new, 0 already stored, 1 passages added" in first.stdout
    assert second.exit_code == 0, second.output
    assert f"{UNIT}: 0 new, 1 already stored, 0 passages added" in second.stdout


def test_ask_json_returns_the_answer_with_its_fact(
    ingested: tuple[Result, Result, Path], troly: Callable[..., Result]
) -> None:
    *_, data = ingested
    result = troly(data, "ask", QUESTION, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["abstained"] is False
    assert FACT in body["answer"]
    citation = body["citations"][0]
    assert citation["unit"] == UNIT
    assert FACT in citation["text"]
    assert citation["end"] - citation["start"] == len(citation["text"])
    # The stored text is normalised: the report's "Hoà Bình" is cited as "Hòa Bình".
    assert "Hòa Bình" in citation["text"] and "Hoà" not in citation["text"]


def test_ask_prints_the_answer_and_its_source(
    ingested: tuple[Result, Result, Path], troly: Callable[..., Result]
) -> None:
    *_, data = ingested
    result = troly(data, "ask", "Tỷ lệ hồ sơ trực tuyến toàn trình đạt bao nhiêu?", "--unit", UNIT)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "62%" in lines[0]
    assert lines[1].startswith("(reader lexical, confidence ")
    assert f"({UNIT}/" in result.stdout


def test_units_list_shows_the_unit(ingested: tuple[Result, Result, Path], troly: Callable[..., Result]) -> None:
    *_, data = ingested
    result = troly(data, "units", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{UNIT}\t{UNIT_NAME}\t1 documents"]


def test_ask_an_unknown_unit_fails_with_one_line(
    ingested: tuple[Result, Result, Path], troly: Callable[..., Result]
) -> None:
    *_, data = ingested
    result = troly(data, "ask", QUESTION, "--unit", "khong-ton-tai")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["error: unit 'khong-ton-tai' does not exist"]


def test_ask_an_empty_question_fails_with_one_line(
    ingested: tuple[Result, Result, Path], troly: Callable[..., Result]
) -> None:
    *_, data = ingested
    result = troly(data, "ask", "   ")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == ["error: the question is empty"]


def test_ingest_a_file_needs_a_unit(
    workspace: tuple[Path, Path], ingested: tuple[Result, Result, Path], troly: Callable[..., Result]
) -> None:
    corpus, data = workspace
    result = troly(data, "ingest", str(corpus / UNIT / "bao-cao-tong-ket.txt"))
    assert result.exit_code != 0
    assert "--unit" in result.output and "Traceback" not in result.output
    listed = troly(data, "units", "list")
    assert listed.stdout.splitlines() == [f"{UNIT}\t{UNIT_NAME}\t1 documents"]


def test_ingest_audits_each_new_document_once_as_the_api_does(ingested: tuple[Result, Result, Path]) -> None:
    from app.access import AccessControl
    from app.store.database import sqlite_url
    from app.store.migrate import open_upgraded

    *_, data = ingested
    access = AccessControl(open_upgraded(sqlite_url(data / "troly.sqlite3")))
    added = [e for e in access.audit_log(unit=UNIT) if e.action == "document.add"]
    assert len(added) == 1  # the second ingest stored nothing new
    (entry,) = added
    assert entry.key_id == "cli" and entry.detail["passages"] == 1
    assert set(entry.detail) == {"title", "passages"} and "Hòa Bình" in str(entry.detail["title"])
