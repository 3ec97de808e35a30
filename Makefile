# Development entry points: `make demo`, `make test`, `make lint`, `make clean`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean venv report-check

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sagasim run scenarios/bank_transfer.toml

test: $(STAMP)
	$(BIN)/ruff check sagasim tests
	$(BIN)/pytest -q

# Engine against raw SimPy, at full scale; prints seconds and ratios.
bench: $(STAMP)
	$(BIN)/python tests/bench/bench_engine.py

# The published backoff-and-jitter simulation, reproduced on the lab's engine:
# jitter.csv and jitter.png in JITTER_OUT; JITTER_ARGS=--quick for a small run.
JITTER_OUT ?= runs/jitter
.PHONY: jitter
jitter: $(STAMP)
	$(BIN)/python -m sagasim.storms jitter --out $(JITTER_OUT) $(JITTER_ARGS)

# Every teaching notebook at full scale (SCALE = "full"), executed with
# papermill into runs/notebooks/, outputs and all.
.PHONY: notebooks
notebooks: $(STAMP)
	mkdir -p runs/notebooks
	for notebook in notebooks/*.ipynb; do \
		$(BIN)/papermill "$$notebook" "runs/notebooks/$$(basename $$notebook)" \
			-p SCALE full -k python3 --cwd notebooks || exit 1; \
	done

# The HTML report as headless Chromium renders it: a screenshot and the DOM.
report-check: $(STAMP) /usr/bin/chromium
	$(BIN)/pytest -q -m browser tests/report

# Debian's chromium, for report-check; installed only when it is missing.
/usr/bin/chromium:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

lint: $(STAMP)
	$(BIN)/ruff check sagasim tests
	$(BIN)/ruff format --check sagasim tests

clean:
	rm -rf $(VENV) runs build dist *.egg-info sagasim.egg-info \
		.pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
