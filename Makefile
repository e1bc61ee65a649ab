# The two quick-start targets: `make demo` and `make test`. Both set up a virtualenv first; the demo installs only
# what it needs (forkwise itself), the tests add the dev tools and the local model's runtime (llama-cpp-python,
# built from source: a few minutes on 2 cores).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.dev: $(BIN)/.base
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	touch $@

.PHONY: setup demo test lint bench
setup: $(BIN)/.dev

demo: $(BIN)/.base
	$(BIN)/forkwise demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/forkwise schema --check

test: lint
	$(BIN)/python -m pytest -q -n 2
	$(BIN)/forkwise eval --json eval-results.json

bench: setup
	$(BIN)/python bench/bench_facts.py
	$(BIN)/python bench/bench_network.py
	$(BIN)/python bench/bench_discovery.py
	$(BIN)/python bench/bench_rag.py
