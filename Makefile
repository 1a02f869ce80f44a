# The project's entry points. Every target installs what it needs from this repo's files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench migrate clean

install: $(STAMP)

# Re-install when the dependency list changes; the stamp keeps `make run` fast otherwise.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: install
	$(BIN)/stocks-api migrate

run: migrate
	$(BIN)/stocks-api serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/orders.py
	$(BIN)/python bench/ws_fanout.py --rates 100,250,500,5000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
