# pdf-fusion: `make run` runs the whole pipeline on params.yaml; `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The project's venv first on PATH, so Snakemake rules and DVC stages find `python -m pdf_core`.
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-test run test test-fast test-slurm lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version.split()[0]}: set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The console shows the job table, progress and errors (profiles/default); the full log is in .snakemake/log/.
run: install
	snakemake --cores all

test: install-test
	$(BIN)/pytest

test-fast: install-test
	$(BIN)/pytest -m "not slow"

# ruff (lint + format check) and snakefmt; `make format` rewrites the files instead
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules/

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile workflow/rules/

# Real SLURM on a throw-away single-node cluster (root; installs slurm + munge if missing).
test-slurm: install-test
	$(BIN)/pytest -m slurm tests/test_slurm.py -s

clean:
	rm -rf .snakemake .pdf_core data runs dvclive results logs benchmarks
