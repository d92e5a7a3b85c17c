# Two commands on a fresh machine: `make run` (the main job) and `make test` (all checks).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-all lint typecheck docs bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"

# The package, its command line and the service: what `make run` needs.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[service]"
	touch $(RUN_STAMP)

# Plus the dev group (pytest, ruff, import-linter, mypy, simglucose as the reference oracle).
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[service]" --group dev
	touch $(RUN_STAMP) $(DEV_STAMP)

# The twin service with its dashboard on http://127.0.0.1:8000 and live demo patients
# (SQLite file medtwin-demo.db, reused by the next run). Ctrl-C stops it.
run: $(RUN_STAMP)
	$(BIN)/medtwin serve --demo

# System packages the tests use: PostgreSQL 15's binaries (the store tests start their own
# throwaway server) and Debian's chromium (the dashboard's browser tests). Installed with apt
# when missing and we are root; otherwise the command to run is printed.
CHROMIUM := /usr/bin/chromium
PG_INITDB := /usr/lib/postgresql/15/bin/initdb

system-deps:
	@missing=""; \
	[ -x "$(CHROMIUM)" ] || missing="$$missing chromium"; \
	[ -x "$(PG_INITDB)" ] || missing="$$missing postgresql-15"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "The tests need:$$missing. Install with: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi

lint: typecheck
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

# mypy over src/medtwin, configured in pyproject.toml ([tool.mypy]); .mypy_cache keeps reruns fast.
typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# The documentation site (mkdocs.yml) into site/: --strict makes every warning (a broken link, a
# page left out of the nav, a missing example file) an error. Reads the docstrings statically.
docs: $(DEV_STAMP)
	$(BIN)/mkdocs build --strict

# The 20 slowest test phases are listed at the end (the default run should stay near 15 min on
# 2 cores; a test much longer than its neighbours is a candidate for `slow`).
test: lint docs system-deps
	$(BIN)/python -m pytest -m "not slow" -q -n 2 --durations=20

test-all: lint docs system-deps
	$(BIN)/python -m pytest -q -n 2

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/t1d_cohort.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache site
