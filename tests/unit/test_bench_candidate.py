"""`troly bench --reader-delta / --neural-answer-model`: a candidate reader is served by the neural
server setting alone, through the clean environment the bench starts servers with, and a file the
reader would refuse stops the bench before it builds or writes anything."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import app.answer.neural
from app.answer.model import DEFAULT_MODEL_PATH
from app.answer.neural.delta import DEFAULT_DELTA_PATH, load_delta, save_delta, save_ensemble
from app.bench import cli
from app.bench.candidate import CandidateRefused, with_candidate
from app.bench.cli import VARIANTS, bench
from app.bench.common import clean_env

SHIPPED_NEURAL_MODEL = Path(app.answer.neural.__file__).with_name("answer_model.json")


@pytest.fixture
def candidate(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the shipped files under other names: a candidate as troly train-reader and tune write one."""
    delta = tmp_path / "cand-delta.npz"
    model = tmp_path / "cand-model.json"
    delta.write_bytes(DEFAULT_DELTA_PATH.read_bytes())
    model.write_bytes(SHIPPED_NEURAL_MODEL.read_bytes())
    return delta, model


def test_the_neural_setting_serves_the_candidate_and_no_other_does(candidate: tuple[Path, Path]) -> None:
    delta, model = candidate
    served = with_candidate(VARIANTS, ["lexical", "neural"], delta, model)

    neural = served["neural"]
    assert neural.env["TROLY_READER"] == "neural"
    assert neural.env["TROLY_READER_DELTA"] == str(delta.resolve())
    assert neural.env["TROLY_NEURAL_ANSWER_MODEL"] == str(model.resolve())
    for path in (delta, model):
        assert f"`{path.name}` (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:12]})" in neural.description
    assert {name: v for name, v in served.items() if name != "neural"} == {
        name: v for name, v in VARIANTS.items() if name != "neural"
    }
    assert "TROLY_READER_DELTA" not in VARIANTS["neural"].env  # the shared table is left as it was


def test_one_candidate_file_leaves_the_other_shipped(candidate: tuple[Path, Path]) -> None:
    delta, _ = candidate
    neural = with_candidate(VARIANTS, ["neural"], reader_delta=delta)["neural"]
    assert "TROLY_READER_DELTA" in neural.env and "TROLY_NEURAL_ANSWER_MODEL" not in neural.env
    assert with_candidate(VARIANTS, ["neural"]) == VARIANTS


def test_a_shortlist_margin_is_served_by_the_neural_setting_alone() -> None:
    served = with_candidate(VARIANTS, ["lexical", "neural"], shortlist_margin=2.5)
    assert clean_env(served["neural"].env)["TROLY_READER_SHORTLIST_MARGIN"] == "2.5"
    assert "TROLY_READER_DELTA" not in served["neural"].env  # the shipped delta, read with the margin
    assert "shortlist margin 2.5" in served["neural"].description
    assert served["lexical"] == VARIANTS["lexical"]
    with pytest.raises(CandidateRefused, match="add it to --variants"):
        with_candidate(VARIANTS, ["lexical"], shortlist_margin=2.5)


def test_relative_paths_are_served_absolute(
    candidate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The servers run in the bench's work directory: a path relative to the shell's would not be found."""
    monkeypatch.chdir(tmp_path)
    neural = with_candidate(VARIANTS, ["neural"], Path("cand-delta.npz"), Path("cand-model.json"))["neural"]
    assert neural.env["TROLY_READER_DELTA"] == str(tmp_path.resolve() / "cand-delta.npz")
    assert neural.env["TROLY_NEURAL_ANSWER_MODEL"] == str(tmp_path.resolve() / "cand-model.json")


def test_the_candidate_reaches_the_server_past_the_shells_settings(
    candidate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench strips this shell's TROLY_ settings from its servers' environment; the candidate's own
    pass, so a delta named in the shell is not what gets measured."""
    delta, model = candidate
    monkeypatch.setenv("TROLY_READER_DELTA", "/elsewhere/other-delta.npz")
    monkeypatch.setenv("TROLY_NEURAL_ANSWER_MODEL", "/elsewhere/other-model.json")
    env = clean_env(with_candidate(VARIANTS, ["neural"], delta, model)["neural"].env)
    assert env["TROLY_READER_DELTA"] == str(delta.resolve())
    assert env["TROLY_NEURAL_ANSWER_MODEL"] == str(model.resolve())
    assert "TROLY_READER_DELTA" not in clean_env(VARIANTS["lexical"].env)


@pytest.mark.parametrize(
    "content",
    [b"", b"not numpy", b"PK\x03\x04 a zip header, then nothing", DEFAULT_DELTA_PATH.read_bytes()[:4096]],
    ids=["empty", "text", "zip-header", "cut-off"],
)
def test_a_file_that_is_not_a_delta_is_refused(tmp_path: Path, candidate: tuple[Path, Path], content: bytes) -> None:
    _, model = candidate
    not_a_delta = tmp_path / "notes.npz"
    not_a_delta.write_bytes(content)
    with pytest.raises(CandidateRefused, match="is not a reader delta"):
        with_candidate(VARIANTS, ["neural"], not_a_delta, model)


def test_a_delta_of_other_base_weights_is_refused(tmp_path: Path, candidate: tuple[Path, Path]) -> None:
    _, model = candidate
    shipped = load_delta(DEFAULT_DELTA_PATH)
    other = tmp_path / "other-base.npz"
    save_delta(other, dataclasses.replace(shipped, card=dataclasses.replace(shipped.card, base_sha256="0" * 64)))
    with pytest.raises(CandidateRefused, match="fitted on other base weights"):
        with_candidate(VARIANTS, ["neural"], other, model)


def test_an_ensemble_is_a_candidate_as_one_delta_is(tmp_path: Path, candidate: tuple[Path, Path]) -> None:
    _, model = candidate
    shipped = load_delta(DEFAULT_DELTA_PATH)
    ensemble = tmp_path / "ensemble.npz"
    save_ensemble(ensemble, [shipped, shipped])
    assert with_candidate(VARIANTS, ["neural"], ensemble, model)["neural"].env["TROLY_READER_DELTA"] == str(
        ensemble.resolve()
    )
    elsewhere = dataclasses.replace(shipped, card=dataclasses.replace(shipped.card, base_sha256="0" * 64))
    save_ensemble(ensemble, [elsewhere, elsewhere])
    with pytest.raises(CandidateRefused, match="fitted on other base weights"):
        with_candidate(VARIANTS, ["neural"], ensemble, model)


def test_files_the_neural_reader_would_refuse_are_refused(candidate: tuple[Path, Path]) -> None:
    delta, model = candidate
    # the lexical reader's answer model has other features than the neural reader's
    with pytest.raises(CandidateRefused, match="not an answer model of the neural reader"):
        with_candidate(VARIANTS, ["neural"], delta, DEFAULT_MODEL_PATH)
    with pytest.raises(CandidateRefused, match="add it to --variants"):
        with_candidate(VARIANTS, ["lexical", "omp1"], delta, model)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--variants", "lexical", "--reader-delta", "{delta}"], "add it to --variants"),
        (["--variants", "lexical,neural", "--reader-delta", "{bad}"], "is not a reader delta"),
        (["--variants", "neural", "--neural-answer-model", "{bad}"], "not an answer model of the neural reader"),
    ],
)
def test_the_bench_refuses_a_candidate_before_writing_anything(
    tmp_path: Path, candidate: tuple[Path, Path], arguments: list[str], message: str
) -> None:
    delta, _ = candidate
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    out, work = tmp_path / "out", tmp_path / "work"
    args = [a.format(delta=delta, bad=bad) for a in arguments]
    result = CliRunner().invoke(
        bench, ["--quick", "--parts", "http", "--out", str(out), "--work-dir", str(work), *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists() and not work.exists()


def test_the_bench_measures_the_candidate(
    candidate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``troly bench`` hands to its measurements: the server settings with the candidate in them,
    and the files in the report's options."""
    delta, model = candidate
    seen: dict[str, Any] = {}

    def measured(opts: dict[str, Any], *args: Any) -> dict[str, Any]:
        seen["opts"], seen["variants"] = opts, args[-1]
        raise KeyboardInterrupt  # stop before anything is measured

    monkeypatch.setattr(cli, "run_all", measured)
    arguments = ["--quick", "--parts", "http", "--variants", "lexical,neural", "--out", str(tmp_path / "out")]
    CliRunner().invoke(bench, [*arguments, "--reader-delta", str(delta), "--neural-answer-model", str(model)])
    assert seen["variants"]["neural"].env["TROLY_READER_DELTA"] == str(delta.resolve())
    assert seen["variants"]["neural"].env["TROLY_NEURAL_ANSWER_MODEL"] == str(model.resolve())
    assert seen["variants"]["lexical"] == VARIANTS["lexical"]
    assert (seen["opts"]["reader_delta"], seen["opts"]["neural_answer_model"]) == (str(delta), str(model))
