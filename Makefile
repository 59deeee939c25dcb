# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
# Each creates .venv when missing and installs what it needs (re-installs when pyproject.toml changes).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test test-all chaos chaos-aws lint typecheck bench clean skypilot-check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(PY) -m orchestrator demo

# Azure Blob emulator for the checkpoint tests (project-local; skipped with a reason when node/npm is absent).
AZURITE := .tools/node_modules/.bin/azurite-blob
$(AZURITE):
	@if command -v npm >/dev/null 2>&1; then mkdir -p .tools && cd .tools && npm install --no-audit --no-fund --silent azurite@3 || echo "azurite install failed; its tests will skip"; else echo "npm not found; the Azure Blob checkpoint tests will skip"; fi

test: $(VENV)/.dev $(AZURITE)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Everything, including the long runs kept out of `make test`.
test-all: $(VENV)/.dev $(AZURITE)
	$(PY) -m pytest -q --run-slow $(PYTEST_ARGS)

# The chaos harness: 200 jobs, 20+ daemon SIGKILLs, cloud errors, preemptions, agent crashes, 3+
# restarts of a throwaway PostgreSQL of its own (SQLite, saying why, where initdb/pg_ctl are missing).
# chaos-aws: the smaller AWS-on-moto workload (24 jobs, 6+ SIGKILLs, EC2 faults, preemptions).
SEED ?= 11
chaos: $(VENV)/.dev
	$(PY) -m tests.chaos --seed $(SEED) --jobs 200 --kills 20 --concurrency 10 --pg-restarts 3

chaos-aws: $(VENV)/.dev
	$(PY) -m tests.chaos --cloud aws --seed $(SEED) --jobs 24 --kills 6

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check orchestrator providers policies spotwise tools tests bench examples
	$(VENV)/bin/mypy

# SkyPilot's own parser against Spotwise's mapping of the same task files (docs/skypilot.md). SkyPilot is heavy
# and pins its own dependencies, so it lives in a venv of its own; the test runs it there in a subprocess.
SKY_VENV ?= .venv-sky
$(SKY_VENV)/bin/sky:
	python3.11 -m venv $(SKY_VENV) || $(PYTHON) -m venv $(SKY_VENV)
	$(SKY_VENV)/bin/pip install --quiet skypilot

skypilot-check: $(VENV)/.dev $(SKY_VENV)/bin/sky
	SPOTWISE_SKYPILOT_PYTHON=$(abspath $(SKY_VENV))/bin/python $(PY) -m pytest -q -rs tests/skypilot $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(PY) bench/policy_cost.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
