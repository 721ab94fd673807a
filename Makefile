# Common commands. `make book` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup book smoke html test site-test lint bench clean

setup: $(STAMP)  ## virtual environment with the pinned requirements and the package

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $(STAMP)

book: setup  ## execute every chapter (full profile) and build _build/html
	$(PY) -m mnist_utils.run --profile full

smoke: setup  ## the same with tiny data and epochs (minutes)
	$(PY) -m mnist_utils.run --profile smoke

html: setup  ## rebuild the HTML from the executed chapters only
	$(PY) -m mnist_utils.run --html-only

test: setup lint  ## unit tests and every chapter in the smoke profile
	$(PY) -m pytest -m "not site"

lint: setup
	$(PY) -m ruff check .

site-test: setup  ## the built site in Chromium (after `make book` or `make smoke`)
	$(PY) -m pytest -m site

bench: setup  ## time the seeds' patterns against ours (bench/README.md)
	$(PY) bench/bench.py

clean:
	rm -rf _build
