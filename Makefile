# Two entry points for a fresh Debian machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
DEMO_PASSWORD ?= demo12345

.PHONY: install run test test-fast browser-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Start on the embedded default (SQLite under instance/, jobs inline) with the demo county loaded.
run: install
	$(FLASK) db upgrade
	$(FLASK) demo load --password $(DEMO_PASSWORD) 2>/dev/null || echo "demo already loaded (users demo_*, password $(DEMO_PASSWORD))"
	@echo "gridgov is starting at http://$(HOST):$(PORT)/  (log in as demo_worker, demo_dispatcher, demo_handler, demo_supervisor or demo_admin / $(DEMO_PASSWORD))"
	$(FLASK) run --host $(HOST) --port $(PORT)

browser-deps:
	@# Debian's chromium for the browser tests, and a CJK font so screenshots show Chinese, not boxes.
	@need=""; command -v chromium >/dev/null 2>&1 || need="chromium"; \
	 fc-list :lang=zh 2>/dev/null | grep -q . || need="$$need fonts-wqy-microhei"; \
	 if [ -n "$$need" ]; then apt-get update -qq && apt-get install -y -qq $$need >/dev/null; fi

# The whole suite: unit, integration (SQLite and PostgreSQL, real Redis and rq) and browser tests.
test: install browser-deps
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not browser and not slow"

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
