# Quick start: `make run` (set up, run recipes/news.yaml on sample_data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml plugins/example-filter/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch: pin the CPU build first wherever a later plugin needs it (see DEVELOPERS.md).
	$(BIN)/python -m pip install -q -e '.[dev]' -e plugins/example-filter
	touch $(STAMP)

run: setup
	$(BIN)/corpuskit run recipes/news.yaml --overwrite
	$(BIN)/corpuskit inspect out/news --rows 2

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/bench_identity.py --docs 1000000
	POLARS_MAX_THREADS=1 $(BIN)/python bench/bench_cleaning.py --docs 100000

clean:
	rm -rf out .pytest_cache
