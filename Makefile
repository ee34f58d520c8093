# Quick start: `make run` (set up, run recipes/news.yaml on sample_data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-convergence test-fast test-adversarial test-stock-pip lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml plugins/example-filter/pyproject.toml plugins/gpt/pyproject.toml plugins/seq2seq/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch: the CPU build, pinned before the GPT plugin asks for torch (an unpinned
	# torch would pull a multi-GB CUDA build). The plugin itself keeps a normal range.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,ray,tune,report,serve]' -e plugins/example-filter -e plugins/gpt -e plugins/seq2seq
	# numba's kernels and the report's chart bundle, built once per machine here, not in a run
	$(BIN)/python -m corpuskit.jit
	$(BIN)/python -m corpuskit.report.bundle
	touch $(STAMP)

run: setup
	$(BIN)/corpuskit run recipes/news.yaml --overwrite
	$(BIN)/corpuskit inspect out/news --rows 2
	$(BIN)/corpuskit train recipes/news-gpt.yaml resume=false threads=1
	$(BIN)/corpuskit generate runs/news-gpt --prompt "The council said" --max-new-tokens 60
	$(BIN)/corpuskit report out/news --to out/news/report.html
	@echo "open out/news/report.html: what the run kept, dropped and why"

# The tinyshakespeare convergence test runs 600 of nanoGPT's 2000 steps here (val loss
# <= 2.35; `make test-convergence` runs all 2000 against 1.90).
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	CORPUSKIT_SHAKESPEARE_ITERS=600 CORPUSKIT_SHAKESPEARE_MAX_VAL_LOSS=2.35 $(BIN)/pytest -q

test-convergence: setup
	CORPUSKIT_SHAKESPEARE_ITERS=2000 $(BIN)/pytest -q tests/test_gpt_plugin.py -k tinyshakespeare

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

# The adversarial suite with its heavier randomized cases (more hypothesis examples,
# more kill points); the fast cases run in `make test` already.
test-adversarial: setup
	CORPUSKIT_ADVERSARIAL_EXAMPLES=300 $(BIN)/pytest -q tests/test_adversarial.py

# A fresh install with the pip that ships with Python (no upgrade), as a user gets it:
# every module corpuskit imports must come with `pip install .`.
test-stock-pip:
	rm -rf .venv-stock
	$(PYTHON) -m venv .venv-stock
	.venv-stock/bin/python -m pip install -q .
	cd /tmp && $(CURDIR)/.venv-stock/bin/python -c "import justext, lxml_html_clean; from corpuskit.readers.extract import extract_html; p = extract_html('<html><body><article><p>' + 'A page of plain words for the stock pip check. ' * 20 + '</p></article></body></html>'); assert p.reason is None and 'stock pip' in p.text, p"
	cd /tmp && $(CURDIR)/.venv-stock/bin/python -c "import polars as pl; from corpuskit.steps.url_filter import UrlFilter, UrlFilterConfig; s = UrlFilter(UrlFilterConfig(), name='url_filter'); s.setup(); b = s.process(pl.DataFrame({'text': ['a', 'b'], 'url': ['https://www.reuters.com/world', 'https://www.reuters.com/x']})).batch; from corpuskit.schema import REASON_COLUMN as R; assert b[R].null_count() == 2, b"
	rm -rf .venv-stock

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
	$(BIN)/python bench/bench_filters.py --docs 2000 --batch 500
	$(BIN)/python bench/bench_trainer.py --threads 1

clean:
	rm -rf out runs .pytest_cache
