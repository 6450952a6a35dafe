# Neural Networks in Practice - one entry point for every task.
#   make lab      set up (once) and open JupyterLab in notebooks/
#   make test     set up (once), run labkit's unit tests and every notebook under nbval
#   make verify   execute every notebook headless in PROFILE (default standard) and
#                 write executed copies + a results table to build/<profile>/
#   make student  write student versions (solutions removed) to student/
# Set-up is idempotent: the venv is (re)built only when pyproject.toml or
# requirements.lock change.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= standard
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9]*.ipynb))
NBVAL_FLAGS := --nbval-lax --nbval-cell-timeout=1800 --nbval-kernel-startup-timeout=120 \
               --nbval-sanitize-with tests/nbval_sanitize.cfg
export IPYTHONDIR := $(CURDIR)/tools/ipython
export PYTHONWARNINGS := ignore::DeprecationWarning
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: setup lab test unit notebooks verify student clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbook)" >/dev/null
	@touch $(STAMP)

lab: setup
	cd notebooks && ../$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

test: setup
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest $(NBVAL_FLAGS) $(NOTEBOOKS)

unit: setup
	$(BIN)/python -m pytest tests

notebooks: setup
	$(BIN)/python -m pytest $(NBVAL_FLAGS) $(NOTEBOOKS)

verify: setup
	$(BIN)/python -m labkit.runbook --profile $(PROFILE) --out build/$(PROFILE) $(NOTEBOOKS)

student: setup
	$(BIN)/python -m labkit.student --out student $(NOTEBOOKS)

clean:
	rm -rf build student
