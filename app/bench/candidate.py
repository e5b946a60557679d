"""A candidate neural reader under load: the ``neural`` server setting with a reader delta, an
answer model or a shortlist margin other than the shipped ones.

A delta from ``troly train-reader`` and its answer model from ``troly tune --reader neural`` are
measured where they would run, without copying them over the shipped files: the bench starts its
servers with none of this shell's ``TROLY_`` settings (app.bench.common.clean_env), so the files are
named here and passed to the ``neural`` server alone. Both are read before the bench sets anything
up, so a file that is not a delta or an answer model of the neural reader, or a delta fitted on other
base weights, fails in a second rather than after minutes of building units. (Whether a delta's
tensors fit its recipe is only known once the encoder is built: the server checks that when it starts.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from app.bench.load import ServerVariant
from app.errors import ReaderUnavailable

NEURAL_VARIANT = "neural"

Command = TypeVar("Command", bound=Callable[..., Any])


class CandidateRefused(ValueError):
    """A candidate file the neural reader would not start with, or no server setting to serve it."""


def _check_delta(path: Path) -> None:
    from app.answer.neural.delta import load_deltas
    from app.answer.neural.weights import BASE_WEIGHTS_SHA256

    try:
        for delta in load_deltas(path):  # one, or an ensemble's members
            delta.card.check_base(BASE_WEIGHTS_SHA256)  # the server would check it after set-up
    except ReaderUnavailable as exc:
        raise CandidateRefused(f"{path}: {exc}") from exc


def _check_answer_model(path: Path) -> None:
    from app.answer.features import NEURAL
    from app.answer.model import AnswerModel

    try:
        AnswerModel.load(path, NEURAL)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # json's decoding errors are ValueErrors
        raise CandidateRefused(f"{path} is not an answer model of the neural reader ({exc})") from exc


def with_candidate(
    variants: Mapping[str, ServerVariant],
    chosen: list[str],
    reader_delta: Path | None = None,
    answer_model: Path | None = None,
    shortlist_margin: float | None = None,
) -> dict[str, ServerVariant]:
    """``variants`` with the neural one serving ``reader_delta`` and ``answer_model`` (either may be
    None: the shipped file) and reading the shortlist with ``shortlist_margin`` (None: the default).
    ``chosen``: the settings the run measures, which must include it."""
    if reader_delta is None and answer_model is None and shortlist_margin is None:
        return dict(variants)
    if NEURAL_VARIANT not in chosen:
        raise CandidateRefused(f"a candidate reader is served by the {NEURAL_VARIANT!r} setting: add it to --variants")
    from app.answer.neural.weights import file_sha256

    neural = variants[NEURAL_VARIANT]
    env = dict(neural.env)
    named: list[str] = []
    if reader_delta is not None:
        _check_delta(reader_delta)
        env["TROLY_READER_DELTA"] = str(reader_delta.resolve())
        named.append(f"reader delta `{reader_delta.name}` (sha256 {file_sha256(reader_delta)[:12]})")
    if answer_model is not None:
        _check_answer_model(answer_model)
        env["TROLY_NEURAL_ANSWER_MODEL"] = str(answer_model.resolve())
        named.append(f"answer model `{answer_model.name}` (sha256 {file_sha256(answer_model)[:12]})")
    if shortlist_margin is not None:
        env["TROLY_READER_SHORTLIST_MARGIN"] = repr(shortlist_margin)
        named.append(f"shortlist margin {shortlist_margin:g}")
    candidate = dataclasses.replace(
        neural, env=env, description=f"{neural.description}, candidate {' and '.join(named)}"
    )
    return {**variants, NEURAL_VARIANT: candidate}


def candidate_options(command: Command) -> Command:
    """``troly bench``'s options naming a candidate: files and settings ``with_candidate`` serves."""
    options = [
        click.option(
            "--reader-delta",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="A candidate reader delta (troly train-reader) served by the `neural` setting, which --variants must "
            "name, instead of the shipped delta.",
        ),
        click.option(
            "--neural-answer-model",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="The candidate's answer model (troly tune --reader neural) served by the `neural` setting instead of "
            "the shipped one.",
        ),
        click.option(
            "--reader-shortlist-margin",
            type=click.FloatRange(min=0.0, min_open=True),
            help="TROLY_READER_SHORTLIST_MARGIN for the `neural` setting: read only the shortlisted sentences within "
            "this many log-odds of the lexical favourite (the servers read no TROLY_ setting of the shell).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
