# Every target creates .venv when it is missing; installs are pinned by constraints.txt
# (torch==2.13.0: an unpinned torch would pull a multi-GB CUDA build).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5006
LAB_PORT ?= 8888
LAB_ARGS ?=

.PHONY: app test test-fast lint lab bench bench-learning bench-sweep bench-dashboard bench-published

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

app: $(STAMP)
	$(BIN)/workbench serve --port $(PORT) --runs-dir runs

# The whole suite, as CI runs it: lint and format check first, then every test.
test: lint
	$(BIN)/python -m pytest -q

# The developer loop: lint, then everything not marked slow (sweeps, SIGKILL, notebooks, browser,
# wheel install, CLI subprocess cases past the first), in two worker processes (pytest-xdist, one per
# core): about 1,010 tests, ~85 s of test CPU time plus ~20 s of start-up and collection per worker.
test-fast: lint
	$(BIN)/python -m pytest -q -m "not slow" -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lab: $(STAMP)
	$(BIN)/jupyter lab --no-browser --notebook-dir=notebooks --port $(LAB_PORT) $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,bench]"
	$(BIN)/python -m benchmarks

bench-learning: $(STAMP)
	$(BIN)/python -m benchmarks.learning
	$(BIN)/python -m benchmarks.learning_delta

bench-sweep: $(STAMP)
	$(BIN)/python -m benchmarks.sweep

bench-dashboard: $(STAMP)
	$(BIN)/python -m benchmarks.dashboard

bench-published: $(STAMP)
	$(BIN)/python -m benchmarks.published
