# dedupe: every target installs what it needs into .venv (from pyproject.toml) first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
IN ?= fixtures/news_scrape.txt
OUT ?= out/clean.txt
export PYTHONHASHSEED := 0

.PHONY: install test test-fast lint demo clean-data accuracy bench bench-spark bench-index fuzz review clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark,redis]'
	touch $(STAMP)

install: $(STAMP)  ## venv under the repo, editable install with all extras

test: $(STAMP)  ## the whole suite (Spark, Redis and browser tests included where available)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## the suite without Spark, Redis and browser tests
	$(BIN)/python -m pytest -q -m "not spark and not redis and not browser"

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check dedupe tests benchmarks
	$(BIN)/mypy

demo: $(STAMP)  ## the main job on the seed scrape: clean text on stdout, summary on stderr
	@mkdir -p out
	$(BIN)/dedupe clean fixtures/news_scrape.noisy.txt --audit out/demo.audit.jsonl --stats out/demo.stats.json -o out/demo.clean.txt
	@cat out/demo.clean.txt
	@echo
	@echo "--- audit (out/demo.audit.jsonl: one JSON line per removal), as a table:"
	@$(BIN)/dedupe audit out/demo.audit.jsonl
	@cmp -s out/demo.clean.txt fixtures/news_scrape.clean.txt && echo "--- output equals fixtures/news_scrape.clean.txt byte for byte" || (echo "--- output DIFFERS from fixtures/news_scrape.clean.txt"; exit 1)

clean-data: $(STAMP)  ## make clean-data IN=raw.txt OUT=clean.txt [AUDIT=audit.jsonl]
	@mkdir -p $(dir $(OUT))
	$(BIN)/dedupe clean $(IN) -o $(OUT) $(if $(AUDIT),--audit $(AUDIT),)

review: $(STAMP)  ## the review page of the seed scrape: out/review.html (open it in a browser)
	@mkdir -p out
	$(BIN)/dedupe review fixtures/news_scrape.noisy.txt -o out/review.html

bench-index: $(STAMP)  ## persistent index of 1M units of news text (SQLite; Redis 200k): index and query units/s, bytes per unit (benchmarks/out/)
	$(BIN)/python -m benchmarks.index_bench $(if $(UNITS),--units $(UNITS),) $(if $(REDIS_UNITS),--redis-units $(REDIS_UNITS),) $(if $(CANDIDATE),--set candidate_threshold=$(CANDIDATE),) $(if $(CORPUS),--corpus $(CORPUS),)

bench: $(STAMP)  ## speed: end to end at 10 and 50 MB, the naive recipe, each stage, fast == plain (benchmarks/out/speed.json)
	$(BIN)/python -m benchmarks.speed $(if $(SIZES),--sizes $(SIZES),)

bench-spark: $(STAMP)  ## Spark engine at 5-40 MB on local[2]: time, shuffle bytes, growth (benchmarks/out/)
	$(BIN)/python -m benchmarks.spark_bench $(if $(SIZES),--sizes $(SIZES),)

accuracy: $(STAMP)  ## labelled noisy corpus: presets vs a naive MinHash baseline, per noise level (benchmarks/out/accuracy.json)
	$(BIN)/python -m benchmarks.accuracy $(if $(SEED),--seed $(SEED),)

fuzz: $(STAMP)  ## the long campaign: 2000 hypothesis examples per property, gigabyte bombs, slow fault tests
	HYPOTHESIS_PROFILE=fuzz DEDUPE_SLOW_TESTS=1 $(BIN)/python -m pytest -q \
		--durations=10 tests/test_fuzz.py tests/test_limits.py tests/test_faults.py

clean:
	rm -rf out benchmarks/out .pytest_cache .mypy_cache .ruff_cache
