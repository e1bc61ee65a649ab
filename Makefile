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

# llama.cpp is built without -march=native: a CPU may report AMX (amx_tile) that the kernel or the sandbox does not
# enable, and ggml's AMX matrix kernels then die with SIGILL (seen here on a Xeon under a VM). AVX2/FMA/F16C run
# everywhere this project does. pip's wheel cache ignores CMAKE_ARGS, so the wheel is built once into a folder named
# after the version and the flags, and installed from there.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS ?= $(HOME)/.cache/forkwise/wheels/llama-cpp-python-$(LLAMA_VERSION)-$(shell printf '%s' '$(LLAMA_CMAKE)' | sha256sum | cut -c1-12)

$(BIN)/.dev: $(BIN)/.base
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then 	  echo "building llama-cpp-python $(LLAMA_VERSION) (portable CPU flags; a few minutes on 2 cores)"; 	  CMAKE_ARGS='$(LLAMA_CMAKE)' $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir 	    --no-binary llama-cpp-python -w $(LLAMA_WHEELS) 'llama-cpp-python==$(LLAMA_VERSION)'; 	fi
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps "$$(ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl)"
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	touch $@

.PHONY: setup demo test lint bench bench-quick
setup: $(BIN)/.dev

demo: $(BIN)/.base
	$(BIN)/forkwise demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/forkwise schema --check
	$(BIN)/python -m forkwise.index.gitcalls --check README.md
	@# mypy reads the folders under their package names (strict on index/ and service/verdicts/: pyproject.toml)
	@rm -rf .mypy-src && mkdir -p .mypy-src/forkwise && touch .mypy-src/forkwise/__init__.py
	@for d in index service evals prompts schema; do ln -s ../../$$d .mypy-src/forkwise/$$d; done
	$(BIN)/mypy -p forkwise.index -p forkwise.service -p forkwise.evals

# the real fork networks beside the project (../shared/networks); their eval runs when they are there
# (beside the project, else where this machine keeps them: a CI clone elsewhere still runs them)
NETWORKS ?= $(or $(firstword $(wildcard $(abspath ../shared/networks) /work/shared/networks)),$(abspath ../shared/networks))
# fetched snapshots of public fork networks studied by hand (evals/real/README.md); their eval runs when they are there
MIRRORS ?= $(or $(firstword $(wildcard $(abspath ../.mirror) /work/.mirror)),$(abspath ../.mirror))

test: lint
	$(BIN)/python -m pytest -q -n 2
	$(BIN)/forkwise eval --json artifacts/eval-results.json
	$(BIN)/forkwise eval --writer local --subset --json artifacts/eval-llm-results.json
	@if [ -f "$(NETWORKS)/mysqldb1.bundle" ]; then \
	  FORKWISE_NETWORKS="$(NETWORKS)" $(BIN)/forkwise eval --cases evals/practice; \
	else echo "NOTE: no practice network in $(NETWORKS): evals/practice did not run (make test NETWORKS=/path/to/networks)"; fi
	@if [ -d "$(MIRRORS)/satori+go.uuid" ]; then \
	  FORKWISE_MIRRORS="$(MIRRORS)" $(BIN)/forkwise eval --cases evals/real; \
	else echo "NOTE: no fetched networks in $(MIRRORS): evals/real did not run (make test MIRRORS=/path, see evals/real/README.md)"; fi
	$(MAKE) bench-quick

bench: setup
	$(BIN)/python bench/bench_facts.py
	$(BIN)/python bench/bench_network.py
	$(BIN)/python bench/bench_discovery.py
	$(BIN)/python bench/bench_rag.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_llm.py
	$(BIN)/python bench/bench_workers.py
	$(BIN)/python bench/bench_startup.py

# every benchmark in a small configuration: fails on errors, never on timings (CI runs it so they never rot)
bench-quick: setup
	$(BIN)/python bench/bench_facts.py --forks 8 --upstream-commits 80 --files 40 --rounds 1 --merge-forks 12
	$(BIN)/python bench/bench_network.py --forks 8 --upstream-commits 80 --files 40 --naive-sample 2
	$(BIN)/python bench/bench_discovery.py --forks 40 --own 5 --upstream-commits 40
	$(BIN)/python bench/bench_rag.py --questions 4 --llm-forks 1 --llm-questions 1
	$(BIN)/python bench/bench_load.py --quick
	$(BIN)/python bench/bench_llm.py --subset --cases 1
	$(BIN)/python bench/bench_workers.py --forks 12 --upstream-commits 40 --files 20 --chunk 4
	$(BIN)/python bench/bench_startup.py --forks 4 --upstream-commits 40 --files 20 --rounds 1
