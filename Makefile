# SO1 Incident Response — `make` lists the targets.
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help run test venv lint format typecheck check bench clean screenshots

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: ## Create the virtual environment with the development tools
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[dev]'

run: ## README command 1: install, migrate and serve on http://127.0.0.1:8000
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -q -e . && $(VENV)/bin/so1 serve

test: ## README command 2: the whole suite on SQLite and PostgreSQL
	./scripts/test

screenshots: ## Regenerate docs/screenshots/*.png from the browser test (headless Chromium)
	SO1_SCREENSHOTS=docs/screenshots $(VENV)/bin/pytest -q tests/e2e/test_browser.py tests/e2e/test_browser_incident.py

lint: ## ruff lint and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: ## Apply ruff formatting and safe fixes
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

typecheck: ## mypy --strict over src, tests and bench
	$(VENV)/bin/mypy

check: lint typecheck ## Lint, types, then the suite
	$(VENV)/bin/pytest

bench: ## API benchmark on SQLite and PostgreSQL (prints figures)
	$(PY) bench/api.py

clean: ## Remove caches and the local SQLite database
	rm -rf .mypy_cache .ruff_cache .pytest_cache so1.db so1.db-wal so1.db-shm
