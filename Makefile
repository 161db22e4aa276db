# Two commands matter: `make demo` (set up and run the product) and `make test` (everything CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Quiet logs (warnings only), so the sign-ins printed once the server is up stay in view.
DEMO_ENV := DEBUG=true LOG_LEVEL=WARNING SERVER_LOG_LEVEL=WARNING
export PYTHONUNBUFFERED := 1

.PHONY: help venv venv-test demo test lint typecheck pytest bench-inference bench-classroom bench-pipeline bench-alerts bench-dashboard bench-privacy clean

help:
	@echo "make demo   - install into $(VENV), migrate, seed the demo school, serve on http://127.0.0.1:8000"
	@echo "make test   - lint, type-check and run every test against PostgreSQL and Redis"

# The product itself needs only the base install; tests add the dev and training extras
# (training pins the CPU build of torch 2.13.0).
$(VENV)/.installed-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-base
	$(PY) -m pip install --quiet -e ".[dev,training]"
	touch $@

venv: $(VENV)/.installed-base

venv-test: $(VENV)/.installed-test

demo: venv
	mkdir -p var
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo
	@# demo_stream waits for the server, prints the sign-ins, then streams a live session until
	@# Ctrl-C (which reaches both processes: same process group).
	$(DEMO_ENV) $(PY) manage.py demo_stream --server http://127.0.0.1:8000 & \
	$(DEMO_ENV) $(PY) manage.py runserver --noreload 127.0.0.1:8000; \
	kill $$! 2>/dev/null; wait

lint: venv-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv-test
	$(VENV)/bin/mypy .

pytest: venv-test
	$(PY) -m pytest

test: lint typecheck pytest

bench-inference: venv
	$(PY) -m inference bench --json

bench-classroom: venv
	$(PY) -m bench.classroom

bench-pipeline: venv
	$(PY) -m bench.pipeline

bench-alerts: venv
	$(PY) -m bench.alerts

bench-dashboard: venv
	$(PY) -m bench.dashboard

bench-privacy: venv
	$(PY) -m bench.privacy

clean:
	rm -rf $(VENV) var staticfiles .mypy_cache .ruff_cache .pytest_cache
