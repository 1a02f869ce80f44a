# The project's entry points. Every target installs what it needs from this repo's files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

WEBAPP := services/stocks-webapp
NODE_STAMP := $(WEBAPP)/node_modules/.installed-stamp

.PHONY: install system-packages ui run test test-ui lint bench bench-quick migrate clean

install: $(STAMP) $(NODE_STAMP) system-packages

# The dashboard's packages, from its lock file (Node.js 20.19+ and npm).
$(NODE_STAMP): $(WEBAPP)/package.json $(WEBAPP)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20.19+ with npm is required for the UI"; exit 1; }
	cd $(WEBAPP) && npm ci --no-audit --no-fund
	touch $@

# Build the dashboard when its build is missing or older than its sources.
ui: $(NODE_STAMP)
	cd $(WEBAPP) && node scripts/build-if-stale.mjs

# Debian programs the tests run for real (nginx, Prometheus, docker-compose, psql,
# Chromium), installed when missing.
system-packages:
	@bash scripts/system-packages.sh

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

run: migrate ui
	$(BIN)/stocks-api serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint test-ui
	$(BIN)/pytest

# The dashboard: its API types match the API, lint, unit tests, then Chromium end to end.
test-ui: install
	cd $(WEBAPP) && npm run check:api && npm run lint && npm test && npm run e2e

bench: install
	$(BIN)/python bench/orders.py
	$(BIN)/python bench/orders.py --broker ibkr --orders 1000 --serial 200
	$(BIN)/python bench/ws_fanout.py --rates 100,250,500,5000
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/market.py

# The order path in under a minute, on both brokers, not recorded: the ratios to the
# same run's baselines and the time per stage, for a change to the order path.
bench-quick: install
	$(BIN)/python bench/orders.py --orders 400 --warmup 50 --serial 100 --no-record
	$(BIN)/python bench/orders.py --broker ibkr --orders 150 --warmup 20 --serial 40 --no-record

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(WEBAPP)/node_modules $(WEBAPP)/dist
