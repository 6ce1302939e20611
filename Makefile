# The two commands: `make up` starts the whole system, `make test` runs the tests.
# Only python3, git and make are needed: uv is installed into .dev/bootstrap on first use.

UV_VERSION := 0.13.9
UV := .dev/bootstrap/bin/uv
PY := .venv/bin/python
PYTEST_FLAGS ?=
CHAOS_FLAGS ?=

.PHONY: up check install browser test test-all test-unit test-browser test-deploy bench soak chaos lint schemas asyncapi clean help

help:
	@echo "make up        start the whole system (embedded Postgres, Kafka-protocol broker, Stripe emulator, sandboxes, services)"
	@echo "make check     reconcile every saga of the running stack with Stripe's and the partners' records"
	@echo "make test      install what is needed and run the suite (slow chaos/load suites excluded)"
	@echo "make test-all  everything, slow suites included"
	@echo "make test-deploy  the production shape: Dockerfiles, compose, k8s, and each image's service run (slow)"
	@echo "make test-browser  the browser journeys only (headless Debian chromium; screenshots in .dev/artifacts/browser/)"
	@echo "make lint      ruff check, ruff format --check and mypy on shared/ and every service (make test runs it first)"
	@echo "make bench     latency, throughput, CPU and memory per booking on the whole stack (BENCH_FLAGS=--help)"
	@echo "make soak      bookings for a bounded time with short retention: swept tables level off (SOAK_FLAGS=--help)"
	@echo "make chaos     faults injected one at a time under 1,000 bookings each, invariants checked (CHAOS_FLAGS=--help)"
	@echo "make schemas   regenerate the JSON Schemas of the contracts"
	@echo "make asyncapi  regenerate the AsyncAPI documents (docs/asyncapi: one per service, and the merged one)"

$(UV):
	python3 -m venv .dev/bootstrap
	.dev/bootstrap/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --all-packages --frozen --quiet
	@touch $@

install: .venv/.synced

# The browser journeys (tests/browser) drive Debian's chromium with Playwright from PyPI (no
# browser download, never `playwright install`). Installed here when it is missing.
browser:
	@test -x /usr/bin/chromium || (echo "installing Debian's chromium for the browser tests ..." && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) ) || \
	  (echo "make: the browser tests need /usr/bin/chromium: install Debian's package (apt-get install chromium, as root)" >&2; exit 1)

up: install
	@$(PY) -m booking_shared.devstack.up

check: install
	@$(PY) -m booking_shared.devstack.checker

test: install browser lint
	$(PY) -m pytest -m "not slow" -q $(PYTEST_FLAGS)

test-browser: install browser
	$(PY) -m pytest tests/browser -q $(PYTEST_FLAGS)

test-all: install browser
	$(PY) -m pytest -q $(PYTEST_FLAGS)

test-deploy: install
	$(PY) -m pytest -q tests/deploy $(PYTEST_FLAGS)

test-unit: install
	$(PY) -m pytest -m "not integration and not slow" --ignore=tests/browser -q $(PYTEST_FLAGS)

lint: install
	$(PY) -m ruff check shared services tests examples
	$(PY) -m ruff format --check shared services tests examples
	$(PY) -m mypy

bench: install
	$(PY) tests/bench/bench.py $(BENCH_FLAGS)

soak: install
	$(PY) tests/soak/soak.py $(SOAK_FLAGS)

chaos: install
	$(PY) tests/chaos/chaos.py --bookings 1000 $(CHAOS_FLAGS)

schemas: install
	$(PY) -m booking_shared.contracts.export

asyncapi: install
	$(PY) -m booking_shared.contracts.asyncapi

clean:
	rm -rf .venv .dev/test
