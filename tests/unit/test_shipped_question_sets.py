"""The question sets in eval/questions, eval/blind and the written ones in eval/training hold
what their READMEs promise: troly loads and accepts them, each answer is copied from the report it
names, and an unanswerable question has none."""

from __future__ import annotations

import json
import string
import unicodedata
from pathlib import Path

import pytest

from app.evaluation.dataset import load_questions
from app.evaluation.question_sets import check_questions
from app.ingest.loaders import load_jsonl_corpus

ROOT = Path(__file__).resolve().parents[2]
SETS = sorted((ROOT / "eval/questions").glob("*.jsonl"))
# Over the XQuAD-vi paragraphs, which live outside the repository: format and kinds only.
BLIND = sorted((ROOT / "eval/blind").glob("*.jsonl"))
REPORTS = ROOT / "corpus/bo-tttt"
KINDS = {"fact", "paraphrase", "unanswerable"}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def test_the_hand_written_sets_are_there() -> None:
    assert {"seed.jsonl", "seed-2.jsonl", "seed-3.jsonl", "seed-4.jsonl"} <= {p.name for p in SETS}


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_a_shipped_question_set_is_accepted_and_its_answers_are_quoted(path: Path) -> None:
    questions = load_questions(path)
    check_questions(path.stem, questions, max_question_chars=1000)
    reports = {p.name: _nfc(p.read_text(encoding="utf-8")) for p in REPORTS.glob("*.txt")}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row["kind"] in KINDS, row["id"]
        if row["kind"] == "unanswerable":
            assert row["answers"] == [] and row["source"] is None, row["id"]
            continue
        assert row["answers"], row["id"]
        report = reports[row["source"]]
        missing = [a for a in row["answers"] if _nfc(a) not in report]
        assert not missing, f"{row['id']}: not in {row['source']}: {missing}"


@pytest.mark.parametrize("path", BLIND, ids=lambda p: p.name)
def test_a_blind_set_is_accepted_and_says_what_kind_each_question_is(path: Path) -> None:
    questions = load_questions(path)
    check_questions(path.stem, questions, max_question_chars=1000)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row["kind"] in KINDS, row["id"]
        assert (row["kind"] == "unanswerable") == (row["answers"] == []) == (row["source"] is None), row["id"]


def test_the_blind_xquad_set_is_there() -> None:
    assert [p.name for p in BLIND] == ["xquad-blind.jsonl"]


# The report-style training sets (eval/training/README.md): one question file per corpus file, and a
# second one, of "which sentence?" questions, over the same reports.
REPORT_TRAINING = sorted((ROOT / "eval/training").glob("reports-written-*-questions.jsonl"))
WHICH_TRAINING = sorted((ROOT / "eval/training").glob("reports-which-*-questions.jsonl"))
# Each family's kinds: the "which sentence?" sets are all answerable.
TRAINING_KINDS = {
    "reports-written": {"literal", "paraphrase", "neighbour", "unanswerable"},
    "reports-which": {"neighbour", "paraphrase", "contrast"},
    "wiki-written": {"literal", "paraphrase", "neighbour", "unanswerable"},
}
# Nine rounds of fictional units: a-z, then aa-az and ba-bi.
UNITS = [*string.ascii_lowercase, *(f"a{u}" for u in string.ascii_lowercase), *(f"b{u}" for u in "abcdefghi")]


def test_the_report_style_training_sets_are_there() -> None:
    assert [p.name for p in REPORT_TRAINING] == sorted(f"reports-written-{u}-questions.jsonl" for u in UNITS)
    assert [p.name for p in WHICH_TRAINING] == sorted(f"reports-which-{u}-questions.jsonl" for u in UNITS)


# The encyclopedic training sets: invented Wikipedia-style articles, 20 paragraphs a unit.
WIKI_TRAINING = sorted((ROOT / "eval/training").glob("wiki-written-*-questions.jsonl"))
WIKI_UNITS = list("abcdefg")


def test_the_encyclopedic_training_sets_are_there() -> None:
    assert [p.name for p in WIKI_TRAINING] == [f"wiki-written-{u}-questions.jsonl" for u in WIKI_UNITS]


@pytest.mark.parametrize("path", WIKI_TRAINING, ids=lambda p: p.name)
def test_an_encyclopedic_paragraph_has_three_answerable_questions_and_three_near_misses(path: Path) -> None:
    kinds: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        kinds.setdefault(row["paragraph"], []).append(row["kind"])
    assert len(kinds) == 20
    for paragraph, asked in kinds.items():
        assert sorted(asked) == ["literal", "neighbour", "paraphrase", *["unanswerable"] * 3], paragraph


def _family_and_unit(questions: Path) -> tuple[str, str]:
    """``reports-which-k-questions.jsonl`` -> ("reports-which", "k")."""
    first, family, unit, _ = questions.name.split("-")
    return f"{first}-{family}", unit


@pytest.mark.parametrize("path", REPORT_TRAINING + WHICH_TRAINING + WIKI_TRAINING, ids=lambda p: p.name)
def test_a_written_training_set_quotes_its_answers_from_its_own_corpus(path: Path) -> None:
    questions = load_questions(path)
    check_questions(path.stem, questions, max_question_chars=1000)
    family, unit = _family_and_unit(path)
    # Both report families ask over the reports-written corpus; the encyclopedic sets over their own.
    corpus = path.with_name(f"{family.split('-')[0]}-written-{unit}-corpus.jsonl")
    reports = {d.source: _nfc(d.text) for d in load_jsonl_corpus(corpus)}  # troly's loader, as train-reader's
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row["kind"] in TRAINING_KINDS[family], row["id"]
        assert (row["kind"] == "unanswerable") == (row["answers"] == []), row["id"]
        missing = [a for a in row["answers"] if _nfc(a) not in reports[row["paragraph"]]]
        assert not missing, f"{row['id']}: not in {row['paragraph']}: {missing}"
