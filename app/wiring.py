"""Assembling the core from settings: the one place entry points call."""

from __future__ import annotations

import logging
from pathlib import Path

from app.access import AccessControl
from app.activity import ActivityLog
from app.answer.extract import LexicalReader
from app.answer.features import NEURAL
from app.answer.model import DEFAULT_MODEL_PATH, AnswerModel
from app.answer.reader import Generator, Reader
from app.assistant import Assistant
from app.embedding import Embedder, create_embedder
from app.errors import ReaderUnavailable
from app.evaluation.history import EvalHistory
from app.evaluation.question_sets import QuestionSets
from app.evaluation.results import EvaluationResults
from app.search.factory import check_search_settings
from app.service.evaluation_jobs import EvaluationJobs
from app.service.evaluation_records import EvaluationRecords
from app.service.live_traffic import LiveTraffic
from app.service.metrics import Metrics
from app.service.process_mark import ProcessMark
from app.service.search_repair import SearchRepair
from app.service.services import Services
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.data_dir_lock import DataDirLock
from app.store.database import Database, parse_url
from app.store.legacy_files import import_legacy_files
from app.store.migrate import open_upgraded

log = logging.getLogger(__name__)


def answer_model_path(settings: Settings) -> Path:
    """The answer model the settings name, else the one tuned into the data directory, else the shipped one."""
    if settings.answer_model is not None:
        return settings.answer_model
    tuned = settings.tuned_model_path
    return tuned if tuned.is_file() else DEFAULT_MODEL_PATH


def open_database(settings: Settings) -> Database:
    """The database every store of the data directory shares (TROLY_DATABASE_URL, else its
    ``troly.sqlite3``), its schema at this release's head and troly 0.1.0's separate files copied into
    it (app.store.legacy_files). The caller closes it (the document store's ``close`` does)."""
    database = open_upgraded(settings.db_url)
    try:
        import_legacy_files(database, settings.data_dir)
    except BaseException:
        database.close()
        raise
    return database


def open_assistant(settings: Settings, model: AnswerModel | None = None, embedder: Embedder | None = None) -> Assistant:
    """``model``: the settings' answer model unless given (tuning passes an untrained one);
    ``embedder``: one already loaded (the command line's tests share one), else the settings' own.

    The data directory's lock comes first (app.store.data_dir_lock): while another process holds it,
    ``DataDirInUse`` is raised before anything is loaded or written. The assistant holds the lock
    until ``Assistant.close()`` or the process's end; in cluster mode it is shared with the other
    cluster-mode processes on the directory."""
    check_search_settings(settings)  # the search backend (TROLY_SEARCH_BACKEND) opens with the knowledge base
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # a held directory exists: nothing is written
    lock = DataDirLock.acquire(settings.data_dir, shared=settings.cluster_mode)
    try:
        store = SqlDocumentStore(open_database(settings))
        model = model or AnswerModel.load(answer_model_path(settings))
        generator = open_generator(settings)
        reader = open_reader(settings, model)
        return Assistant(store, embedder or create_embedder(settings), model, settings, reader, generator, lock)
    except BaseException:
        lock.release()
        raise


def open_reader(settings: Settings, model: AnswerModel) -> Reader:
    """The extractive reader the settings name (with ``TROLY_READER=llm``, its fallback's:
    ``TROLY_LLM_FALLBACK``).

    ``model``: the lexical answer model, which the neural reader shortlists sentences with.
    """
    choice = settings.llm_fallback if settings.reader == "llm" else settings.reader
    lexical = LexicalReader(model, max_chars=settings.answer_max_chars)
    if choice == "lexical":
        return lexical
    try:
        return open_neural_reader(settings, model)
    except ReaderUnavailable as exc:
        if choice == "neural":
            raise
        log.warning("answering with the lexical reader: %s", exc)
        return lexical


def open_generator(settings: Settings) -> Generator | None:
    """The LLM reader when ``TROLY_READER=llm``, else None. Its server is not called here: one
    that is down at start degrades answers (the extractive fallback), not the start."""
    if settings.reader != "llm":
        return None
    missing = [name for name in ("llm_base_url", "llm_model") if not getattr(settings, name)]
    if missing:
        raise ReaderUnavailable(
            "TROLY_READER=llm needs " + " and ".join(f"TROLY_{m.upper()}" for m in missing) + " (docs/llm.md)"
        )
    from app.answer.llm.breaker import CircuitBreaker
    from app.answer.llm.client import ChatClient, ChatSettings
    from app.answer.llm.reader import LLMReader

    assert settings.llm_base_url is not None and settings.llm_model is not None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
    client = ChatClient(
        ChatSettings(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            temperature=settings.llm_temperature,
        )
    )
    breaker = CircuitBreaker(settings.llm_breaker_failures, settings.llm_breaker_reset_s)
    return LLMReader(client, breaker, settings.llm_max_tokens, settings.max_question_chars)


def _first_file(*paths: Path | None) -> Path | None:
    return next((p for p in paths if p is not None and p.is_file()), None)


def reader_delta_path(settings: Settings) -> Path:
    """The delta the settings name, else the one trained into the data directory, else the shipped one."""
    from app.answer.neural.delta import DEFAULT_DELTA_PATH

    return settings.reader_delta or _first_file(settings.tuned_reader_delta_path) or DEFAULT_DELTA_PATH


def open_neural_reader(settings: Settings, lexical: AnswerModel) -> Reader:
    try:  # torch and tokenizers come with the `neural` extra, which a lexical-only install may lack
        from app.answer.neural.reader import NEURAL_MODEL_PATH, NeuralReader
        from app.answer.neural.scorer import CrossEncoderScorer
    except ImportError as exc:
        raise ReaderUnavailable(
            f"the neural reader needs torch and tokenizers: pip install 'troly[neural]' ({exc})"
        ) from exc

    delta = reader_delta_path(settings)
    model_path = settings.neural_answer_model or _first_file(settings.tuned_neural_model_path) or NEURAL_MODEL_PATH
    if not model_path.is_file():
        raise ReaderUnavailable(
            f"no answer model for the neural reader at {model_path}: run `troly tune --reader neural`"
        )
    combined = AnswerModel.load(model_path, NEURAL)
    scorer = CrossEncoderScorer.open(
        delta,
        concurrency=settings.reader_concurrency,
        threads=settings.threads or 0,
        precision=settings.reader_precision,
    )
    return NeuralReader(
        lexical,
        combined,
        scorer,
        settings.answer_max_chars,
        settings.reader_shortlist,
        settings.reader_shortlist_margin,
    )


def open_services(settings: Settings, assistant: Assistant | None = None, metrics: Metrics | None = None) -> Services:
    """``metrics``: the app's (``create_app``), else a fresh registry. The evaluation jobs' worker
    starts with the first evaluation; ``Services.evaluation_jobs.close()`` stops it. ``assistant``: the
    caller's, which stays theirs to close, else one opened here (the data directory's lock with it)."""
    if assistant is None:
        assistant = open_assistant(settings)
        try:
            return open_services(settings, assistant, metrics)
        except BaseException:
            assistant.close()  # opened here: the data directory is not kept locked by a failed start
            raise
    database = _shared_database(settings, assistant)
    history = EvalHistory(database)
    question_sets = QuestionSets(database, settings.max_question_chars)
    traffic = LiveTraffic()
    jobs = EvaluationJobs(
        assistant,
        question_sets,
        EvaluationRecords(database),
        history,
        traffic,
        ProcessMark(settings.data_dir),
        settings.eval_pause_s,
    )
    return Services(
        assistant=assistant,
        activity=ActivityLog(database),
        evaluations=EvaluationResults(history),
        access=AccessControl(database, admin_key=settings.admin_key),
        question_sets=question_sets,
        evaluation_jobs=jobs,
        traffic=traffic,
        metrics=metrics or Metrics(),
        search_repair=(
            SearchRepair(assistant.knowledge, settings.search_repair_interval_s).start()
            if settings.cluster_mode
            else None
        ),
    )


def _shared_database(settings: Settings, assistant: Assistant) -> Database:
    """The assistant's own database when it is the settings' (one engine, one pool per database), with
    0.1.0's files copied in (an assistant a caller opened may not have done it); else one opened here,
    which lives as long as the process."""
    store = assistant.store
    if isinstance(store, SqlDocumentStore) and store.database.url == parse_url(settings.db_url):
        import_legacy_files(store.database, settings.data_dir)
        return store.database
    return open_database(settings)


def open_access(settings: Settings, assistant: Assistant | None = None) -> AccessControl:
    """The keys and their audit (``troly keys``; ``troly ingest``'s audit, on its assistant's database)."""
    database = open_database(settings) if assistant is None else _shared_database(settings, assistant)
    return AccessControl(database, admin_key=settings.admin_key)
