# TokenMart Core. `make run` starts everything; `make test` runs the whole suite.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-12)
export XDG_RUNTIME_DIR ?= /tmp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock pyproject.toml
	@if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then \
	  echo "installing python3-venv"; apt-get update -qq && apt-get install -y -qq python3-venv; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned dependencies from requirements.lock"
	@$(PY) -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*; touch $@

.PHONY: venv
venv: $(STAMP) ## Create the virtualenv from the pinned lock file.

.PHONY: proto
proto: venv ## Regenerate gen/ from protos/.
	@$(PY) -m ops proto

.PHONY: run
run: venv proto ## Set everything up and run all five services in the foreground (Ctrl-C stops).
	@$(PY) -m ops run

.PHONY: test
test: venv ## Set everything up, lint, and run the whole suite against real PostgreSQL and Redis.
	@$(MAKE) lint
	@$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## Ruff (lint and format check), mypy strict, and the import boundaries.
	@$(VENV)/bin/ruff check services ops tokenmart_client tests
	@$(VENV)/bin/ruff format --check services ops tokenmart_client tests
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports

.PHONY: format
format: venv ## Format the code with ruff.
	@$(VENV)/bin/ruff format services ops tokenmart_client tests
	@$(VENV)/bin/ruff check --fix services ops tokenmart_client tests

.PHONY: lock
lock: venv ## Re-pin requirements.lock (with hashes) from requirements.in.
	@$(VENV)/bin/uv pip compile requirements.in --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header -o requirements.lock

.PHONY: pki
pki: venv ## Create the development PKI under .tokenmart/pki.
	@$(PY) -m ops pki .tokenmart/pki

.PHONY: clean
clean: ## Remove the virtualenv and local state (embedded database, certificates).
	rm -rf $(VENV) .tokenmart

.PHONY: bench
bench: venv ## Run the benchmarks (each prints its baseline from the same run).
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	@$(PY) -m bench.grpc_overhead
	@$(PY) -m bench.db_round_trips
	@$(PY) -m bench.auth_gateway
	@$(PY) -m bench.wallet_transfers
	@$(PY) -m bench.provider_http_client
	@$(PY) -m bench.provider_inference

.PHONY: soak
soak: venv ## Fault-injection soak (180 s): kill -9 every process, Redis, PG; verify invariants.
	@$(PY) -m bench.soak --duration 180 $(SOAK_ARGS)
