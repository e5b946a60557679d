"""What every command shares: the settings, one embedder loaded at most once, domain errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    """The click context's object: every command receives it through ``pass_runtime``.

    Which commands lock the data directory (app.store.data_dir_lock), and why:

    * those that open its knowledge base, through ``assistant``: ``serve``, ``ingest``, ``ask`` and
      ``units``. Opening it may write (the embedder's name into an empty store, rebuilt index
      snapshots), and the indexes it builds would miss a running service's writes: while a service
      runs, ask it and list its units over HTTP. The lock goes when the command ends (``close``).
    * ``eval``, ``tune``, ``fusion-grid`` and ``train-reader`` open knowledge bases of their own in
      scratch folders (``fresh_assistant``), locked there; in the data directory they read the
      evaluation history or write model files, which a service reads only when it starts.
    * ``restore`` writes into an empty data directory and locks it itself (app.service.backup).
    * ``backup`` and ``keys`` lock nothing and work beside a running service: SQLite's online backup
      API and the database's transactions (WAL) are safe with another process, and the service reads
      the keys from the database on every request (docs/operations.md).
    """

    settings: Settings
    embedder: Embedder | None = None
    opened: list[Assistant] = field(default_factory=list)

    def assistant(self, settings: Settings | None = None, model: AnswerModel | None = None) -> Assistant:
        """An assistant over ``settings`` (default: the command's own), holding its data directory's
        lock until the command ends. The embedder is loaded once per command, however many assistants
        it opens (tune opens one per question set), and only after the first lock is taken: a command
        refused because a service holds the directory loads nothing."""
        from app.wiring import open_assistant

        assistant = open_assistant(settings or self.settings, model, self.embedder)
        self.embedder = assistant.embedder
        self.opened.append(assistant)
        return assistant

    def close(self) -> None:
        """Closes the assistants the command opened (their locks go): called when the command ends."""
        while self.opened:
            self.opened.pop().close()

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

        # The scratch folder's own SQLite: a corpus indexed for an evaluation never enters TROLY_DATABASE_URL's.
        overrides: dict[str, object] = {"data_dir": scratch, "database_url": None}
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
