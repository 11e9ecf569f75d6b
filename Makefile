# perpflow — everything a fresh machine (python3 3.11, pip, make, git) needs, from two commands:
#   make demo   install, then run the main job on the embedded simulator
#   make test   install, then ruff + the test suite
#   make serve  local Prefect server + worker with every deployment; make stop ends them cleanly
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.perpflow-installed
# the simulator's compiled core (exchanges/sim/build_core.py compiles exchanges/sim/hotpath.py, the source the
# pure-Python engine runs too): rebuilt when that source changes; a failed build prints a one-line notice
# and leaves the pure-Python engine in charge (same results, slower)
SIMCORE := $(VENV)/.perpflow-simcore
# Headless browser of the UI test (tests/test_prefect_ui.py): Debian's package, installed once.
CHROMIUM := /usr/bin/chromium
PORT ?= 4200
# pytest-xdist workers of `make test`: the suite mostly waits (servers, subprocesses), so two overlap well
# on 2 cores; tests sharing one server run on one worker (xdist groups, tests/conftest.py).
TEST_WORKERS ?= 2

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE := prefect.server.concurrency.lease_storage.filesystem
# a temporary Prefect server's first start migrates its database (~30 s on a busy machine; Prefect waits 20 s)
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 300

.PHONY: install demo test lint sql bench bench-venues serve stop clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .uv uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock compat/starknet-crypto-py/pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

$(SIMCORE): exchanges/sim/hotpath.py exchanges/sim/_hotpath.pxd exchanges/sim/build_core.py | $(STAMP)
	@$(BIN)/python exchanges/sim/build_core.py
	@touch $@

install: $(STAMP) $(SIMCORE)  ## create .venv from uv.lock (bootstraps uv through pip), build the simulator's core

demo: install  ## run the main job on the simulator and print its summary
	$(BIN)/perpflow demo

test: install lint $(CHROMIUM)  ## ruff + the whole test suite
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser test ..."
	@sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); export DEBIAN_FRONTEND=noninteractive; \
	$$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	|| { $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@test -x $(CHROMIUM)

serve: install  ## start a local Prefect server + worker, deploy prefect.yaml, print the UI address (PORT=4200)
	$(BIN)/perpflow serve --port $(PORT)

stop: install  ## cancel running bots cleanly (orders cancelled, then flatten/leave), stop worker and server
	$(BIN)/perpflow stop

lint: install  ## ruff check
	$(BIN)/ruff check .

sql: install  ## open the warehouse (published snapshot, read-only) in the duckdb shell
	@db=$$($(BIN)/perpflow warehouse path); test -f "$$db" || $(BIN)/perpflow warehouse load; \
	$(BIN)/duckdb -readonly "$$db"

bench: install  ## print the benchmark figures
	$(BIN)/python bench/sim_throughput.py
	$(BIN)/python bench/replay.py

bench-venues: install  ## per-order and per-message overhead of every venue adapter, against its fake
	$(BIN)/python bench/adapters.py

clean:  ## stop a running server and worker, remove the environment and generated data
	@if [ -x $(BIN)/perpflow ]; then $(BIN)/perpflow stop; fi
	rm -rf $(VENV) .uv data .prefect .pytest_cache .ruff_cache exchanges/sim/_hotpath.*.so exchanges/sim/_core.*.so
