# mctui: `make demo` to try it, `make test` to check it. Both set up .venv on first use.
# `make demo` installs only what the app needs; `make test` adds the test tools and the virtual
# audio device (jackd2) its device tests start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.app-stamp
TEST_STAMP := $(VENV)/.test-stamp

# The tiers (tests/conftest.py): unit/ (no sockets, no processes), integration/ (real servers and
# media on 127.0.0.1), lab/ (network namespaces, Janus, Chromium, JACK), selected by markers.
FAST := not (slow or netns or janus or browser or jack)

.PHONY: demo test check lint bench venv venv-test system-deps system-deps-test deps-test format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(APP_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $(APP_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(APP_STAMP) $(TEST_STAMP)

venv: $(APP_STAMP)

venv-test: $(TEST_STAMP)

system-deps:
	bash scripts/system-deps.sh app

system-deps-test:
	bash scripts/system-deps.sh test

demo: system-deps venv
	$(BIN)/mctui demo

lint: venv-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv-test
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

# The Debian packages (apt) and the venv (pip) are independent: install both at once.
deps-test:
	$(MAKE) -j2 system-deps-test venv-test

# Unit and integration tests on two workers (each on 127.0.0.1 with servers of its own; the
# tests that need the lab's Janus pair run on one worker, the xdist group "lab"), then the lab's
# namespaces, Chromium and JACK one test at a time.
test: deps-test lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=10 tests/unit tests/integration
	$(BIN)/python -m pytest --durations=10 tests/lab

# The inner loop: lint, the unit tier and the fast part of the integration tier (under 2 minutes).
check: system-deps venv-test lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests/unit tests/integration -m "$(FAST)"

bench: system-deps-test venv-test
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
