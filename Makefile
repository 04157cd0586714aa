# The two commands of the README: `make run` and `make test`. Both set up
# everything they need (virtualenv, pinned packages, database roles).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup run test bench lint format schema clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
	$(PY) scripts/bootstrap.py

run: setup
	bash scripts/run.sh

test: setup
	bash scripts/test.sh

# Flags pass through: make bench BENCH_ARGS="--events 100000 --reuse"
bench: setup
	bash scripts/bench.sh $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schema: $(VENV)/.installed
	DJANGO_SETTINGS_MODULE=auditlog_project.settings.test $(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

clean:
	rm -rf $(VENV) .run staticfiles .coverage htmlcov .pytest_cache .ruff_cache
