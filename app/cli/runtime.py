"""What every command shares: the settings, one embedder loaded at most once, domain errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.embedding import Embedder
from app.settings import Settings

if TYPE_CHECKING:
    from app.answer.model import AnswerModel
    from app.assistant import Assistant


@dataclass(frozen=True)
class Preloaded:
    """What a caller already holds, given to ``main`` as click's ``obj``: the tests pass their one
    loaded model so that no command loads another."""

    embedder: Embedder | None = None


@dataclass
class Runtime:
    """The click context's object: every command receives it through ``pass_runtime``."""

    settings: Settings
    embedder: Embedder | None = None

    def assistant(self, settings: Settings | None = None, model: AnswerModel | None = None) -> Assistant:
        """An assistant over ``settings`` (default: the command's own); the embedder is loaded
        once per command, however many assistants it opens (tune opens one per question set)."""
        from app.embedding import create_embedder
        from app.wiring import open_assistant

        if self.embedder is None:
            self.embedder = create_embedder(self.settings)
        return open_assistant(settings or self.settings, model, self.embedder)

    def fresh_assistant(
        self, corpus: Path, scratch: Path, threshold: float | None = None, untrained: bool = False
    ) -> Assistant:
        """An assistant over a new index of ``corpus`` in ``scratch``, with the answer model the
        service would load (``untrained``: all weights zero, for commands that only retrieve or
        collect features, so that they run even when the model no longer matches the features)."""
        from tqdm import tqdm

        from app.answer.model import AnswerModel
        from app.evaluation.corpus import load_corpus
        from app.wiring import answer_model_path

        overrides: dict[str, object] = {"data_dir": scratch}
        if untrained:  # nothing reads with an untrained model: only candidates are collected
            overrides["reader"] = "lexical"
        if threshold is not None:
            overrides["abstain_threshold"] = threshold
        # The model is resolved against the real data directory: the scratch one holds no tuned model.
        model = AnswerModel.untrained() if untrained else AnswerModel.load(answer_model_path(self.settings))
        assistant = self.assistant(self.settings.model_copy(update=overrides), model)
        with tqdm(desc="indexing corpus", unit="passage", disable=None) as bar:
            load_corpus(assistant, corpus, progress=bar.update)
        return assistant


pass_runtime = click.make_pass_decorator(Runtime)


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """Domain errors become one readable line and exit code 2, not a traceback."""
    from app.errors import TrolyError

    try:
        yield
    except TrolyError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        sys.exit(2)
