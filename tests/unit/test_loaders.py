"""The one JSONL reader under question sets and JSONL corpora, and a corpus of unit folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.errors import InvalidInput
from app.evaluation.corpus import corpus_units
from app.evaluation.dataset import load_questions
from app.ingest.loaders import load_documents, load_jsonl_corpus, unit_folders


def _lines(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_questions_and_corpora_skip_blank_lines_and_name_the_bad_line(tmp_path: Path) -> None:
    questions = _lines(
        tmp_path / "q.jsonl", json.dumps({"id": 1, "question": "Ai?", "answers": ["Lan"]}), "", '{"id": 2}'
    )
    with pytest.raises(InvalidInput, match=r"^q\.jsonl:3: not a question line \('question'\)$"):
        load_questions(questions)
    corpus = _lines(tmp_path / "c.jsonl", "", json.dumps({"doc_id": 7, "text": "Văn bản."}), "{oops")
    with pytest.raises(InvalidInput, match=r"^c\.jsonl:3: not a corpus line \("):
        list(load_jsonl_corpus(corpus))


def test_questions_refuse_a_repeated_id_with_its_line(tmp_path: Path) -> None:
    row = json.dumps({"id": "a", "question": "Ai?"})
    with pytest.raises(InvalidInput, match=r"^q\.jsonl:3: duplicate id 'a'$"):
        load_questions(_lines(tmp_path / "q.jsonl", row, "", row))
    (q,) = load_questions(_lines(tmp_path / "one.jsonl", row))
    assert (q.id, q.question, q.answers, q.unit, q.answerable) == ("a", "Ai?", (), None, False)


def test_a_jsonl_corpus_a_file_and_a_folder_load_the_same_way_for_ingest_and_evaluation(tmp_path: Path) -> None:
    corpus = _lines(tmp_path / "c.jsonl", json.dumps({"doc_id": 7, "title": "T", "text": "Văn bản."}))
    (document,) = load_documents(corpus)
    assert (document.title, document.text, document.source) == ("T", "Văn bản.", "7")
    assert corpus_units(corpus) == {"eval": ("Evaluation corpus", [document])}
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "a.txt").write_text("Một văn bản.\n", encoding="utf-8")
    (folder / "README.md").write_text("Không phải dữ liệu.\n", encoding="utf-8")
    assert [d.source for d in load_documents(folder)] == ["a.txt"]
    assert [d.source for d in load_documents(folder / "a.txt")] == ["a.txt"]
    assert unit_folders(folder) == []
    assert list(corpus_units(folder)) == ["eval"]


def test_unit_folders_are_sorted_named_from_units_json_and_skip_hidden_ones(tmp_path: Path) -> None:
    for name in ("so-b", "so-a", ".git"):
        (tmp_path / name).mkdir()
    (tmp_path / "units.json").write_text(json.dumps({"so-a": "Sở A"}), encoding="utf-8")
    assert unit_folders(tmp_path) == [("so-a", "Sở A", tmp_path / "so-a"), ("so-b", None, tmp_path / "so-b")]
    assert {unit: name for unit, (name, _) in corpus_units(tmp_path).items()} == {"so-a": "Sở A", "so-b": "so-b"}
