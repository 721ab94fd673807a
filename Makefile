# Common commands. `make book` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SITE ?= _build/html

.PHONY: setup book smoke html test site-test lint bench clean

setup: $(STAMP)  ## virtual environment with the pinned requirements and the package

# The Python floor is pyproject.toml's requires-python (tools/check_python.py says so clearly);
# constraints.txt locks everything requirements.txt pulls in (regenerate: tools/lock.sh).
$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) tools/check_python.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $(STAMP)

book: setup  ## execute every chapter (full profile) and build _build/html
	$(PY) -m tools.run --profile full

smoke: setup  ## the same with tiny data and epochs, into _build/smoke (minutes)
	$(PY) -m tools.run --profile smoke --build-dir _build/smoke

html: setup  ## rebuild the HTML from the executed chapters only
	$(PY) -m tools.run --html-only

test: setup lint  ## unit tests, every chapter in the smoke profile, the smoke book's HTML
	$(PY) -m pytest -m "not site"

lint: setup  ## ruff, and zizmor's audit of the GitHub workflows (offline: no API calls)
	$(PY) -m ruff check .
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows

site-test: setup  ## the built site in Chromium (SITE=_build/html after `make book`)
	MNIST_SITE_DIR=$(SITE) $(PY) -m pytest -m site

bench: setup  ## one epoch of each model against the device's matmul floor and the seeds' patterns (bench/README.md)
	$(PY) bench/bench.py

clean:
	rm -rf _build
