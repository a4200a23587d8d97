# The quickstart: `make serve` (train on data/ if no model is registered, then serve) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install serve test test-fast lint format bench clean

# torch==2.13.0 goes in first: a CPU build lies on this machine's disk, and anything that pulls an unpinned
# torch before it would bring a multi-GB CUDA build.
# constraints.txt holds every version as resolved and tested: a fresh install gets the same numerics.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet --constraint=constraints.txt -e ".[train,dev,spark,ray]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/contactlens serve --host $(HOST) --port $(PORT) --bootstrap

test: $(STAMP)
	$(BIN)/python -m pytest

# The tests that need no exported encoder, trained model or server (the `slow` mark, see tests/conftest.py).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/service.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
