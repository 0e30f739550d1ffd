# Everything on a fresh machine: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Tested versions come from constraints.txt; pyproject.toml keeps ranges permissive.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: install demo test test-fast test-min lint format api-docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch (or one pulled in by another package) is a
	# multi-GB CUDA build; 2.13.0 is the CPU build this project is tested with.
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -e '.[dev,xgboost-cpu]'
	touch $(STAMP)

demo: install
	rm -rf .automoa-demo
	$(BIN)/automoa search --data bundled:yeast --budget 2m --space default --workdir .automoa-demo \
		--study demo --keep-models
	$(BIN)/automoa status --workdir .automoa-demo --study demo --limit 5
	$(BIN)/automoa report --workdir .automoa-demo --study demo --out .automoa-demo/report
	$(BIN)/automoa export --workdir .automoa-demo --study demo --out .automoa-demo/model
	$(BIN)/automoa predict --model .automoa-demo/model \
		--data automoa/data/bundled/yeast/features_test.csv --out .automoa-demo/predictions.csv

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# The lower bounds of pyproject.toml, installed together from constraints-min.txt into their own
# environment: every floor must be one that passes (CI runs this after `make test`).
VENV_MIN := .venv-min
PIP_INSTALL_MIN := $(VENV_MIN)/bin/python -m pip install --quiet --disable-pip-version-check \
	-c constraints-min.txt
test-min:
	test -x $(VENV_MIN)/bin/python || $(PYTHON) -m venv $(VENV_MIN)
	$(PIP_INSTALL_MIN) torch==2.13.0
	$(PIP_INSTALL_MIN) -e '.[dev,xgboost-cpu]'
	$(VENV_MIN)/bin/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check automoa tests benchmarks tools
	$(BIN)/ruff format --check automoa tests benchmarks tools

format: install
	$(BIN)/ruff check --fix automoa tests benchmarks tools
	$(BIN)/ruff format automoa tests benchmarks tools

# The README's Python API reference, rendered from the docstrings (a test checks it is current).
api-docs: install
	$(BIN)/python tools/api_reference.py

bench: install
	$(BIN)/python benchmarks/controller_overhead.py

clean:
	rm -rf $(VENV) $(VENV_MIN) .automoa-demo .pytest_cache build *.egg-info
