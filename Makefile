# The two commands a new user needs: `make demo` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench bench-quick chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch==2.13.0 is pinned in pyproject.toml, which keeps pip on the CPU wheel here.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trainjet demo

# Lint and types first: they take seconds and fail faster than the suite.
test: $(STAMP)
	$(BIN)/ruff check trainjet tests
	$(BIN)/ruff format --check trainjet tests bench tools
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# While working: the unit and contract tests (pure logic and the store adapters), on two
# workers (each its own nats-server), in under a minute.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "unit or contract"

# Benchmarks (docs/benchmarks.md). `bench` also tries the optional MLflow peer's extra.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]' || echo "bench extra not installed: the MLflow peer is skipped"
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

# The fault-injection suite (docs/reliability.md): every scenario in its long variant, each
# writing its figure to the report, then the table goes into the page. `make test` runs the
# fast variants of the same tests.
CHAOS_REPORT := .trainjet/chaos-report.jsonl
chaos: $(STAMP)
	mkdir -p .trainjet && rm -f $(CHAOS_REPORT)
	TRAINJET_CHAOS_FULL=1 TRAINJET_CHAOS_REPORT=$(CURDIR)/$(CHAOS_REPORT) \
		$(BIN)/python -m pytest -q -m chaos tests/chaos; \
		status=$$?; $(BIN)/python tools/chaos_report.py $(CHAOS_REPORT) docs/reliability.md; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check trainjet tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .trainjet .pytest_cache
