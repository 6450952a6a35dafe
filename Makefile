# Neural Networks in Practice - one entry point for every task.
#   make lab      set up (once), bring the learner's copies in workspace/ up to date (never
#                 over a copy the learner edited: a newer lab lands beside it) and open
#                 JupyterLab on 127.0.0.1 in workspace/, with the solutions in notebooks/
#   make test     set up (once), run labkit's unit tests and every notebook under nbval
#                 (quick profile; LABKIT_PROFILE=standard make test for the learner's sizes)
#   make verify   execute every notebook headless in PROFILE (default standard) and
#                 write executed copies + a results table to build/<profile>/
#   make student  write student versions (solutions removed) to student/
# Instructors (nbgrader, see docs/instructors.md), in the course folder COURSE (default course/):
#   make assignment LAB=04_mnist   source/ from notebooks/04_mnist.ipynb, then generate_assignment
#   make release / collect / autograde / feedback LAB=04_mnist   the nbgrader steps
#                 (autograde runs the notebooks in PROFILE, with LABKIT_DATA_DIR as set)
# Set-up is idempotent: the venv is (re)installed only when pyproject.toml or the lock change.
# It installs the exact pins of requirements.lock, then this package with --no-deps (so pip
# never swaps a locked version for another one in pyproject.toml's ranges).
#   make lab GPU=1 (or make setup GPU=1)   TensorFlow's CUDA build instead (Linux x86_64 with an
#                 NVIDIA driver): requirements-gpu.lock, the same pins with `tensorflow[and-cuda]`
#                 and its CUDA libraries in place of `tensorflow-cpu`. The venv remembers it;
#                 GPU=0 goes back to the CPU build.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# GPU unset: the build the venv already has (CPU for a new venv).
GPU ?= $(if $(wildcard $(VENV)/.installed-gpu),1,0)
ifeq ($(GPU),1)
VARIANT := gpu
LOCK := requirements-gpu.lock
else
VARIANT := cpu
LOCK := requirements.lock
endif
STAMP := $(VENV)/.installed-$(VARIANT)
OTHER_STAMP := $(VENV)/.installed-$(if $(filter gpu,$(VARIANT)),cpu,gpu)
PROFILE ?= standard
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9]*.ipynb))
WORKSPACE ?= workspace
COURSE ?= course
# nbgrader runs `alembic` (its database migrations) by name: the venv's bin/ goes first on PATH
NBGRADER := PATH="$(abspath $(BIN)):$$PATH" $(abspath $(BIN))/nbgrader
LAB ?=
NBVAL_FLAGS := --nbval-lax --nbval-cell-timeout=1800 --nbval-kernel-startup-timeout=120 \
               --nbval-sanitize-with tests/nbval_sanitize.cfg
export IPYTHONDIR := $(CURDIR)/tools/ipython
export PYTHONWARNINGS := ignore::DeprecationWarning
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: setup lab test unit integration platforms notebooks verify student book clean assignment release collect autograde feedback

setup: $(STAMP)

# Switching between the CPU and the CUDA build removes the installed TensorFlow first: two
# TensorFlow distributions in one venv overwrite each other's files (the CUDA libraries of a
# former GPU set-up stay; the CPU build never loads them). `labkit` is this
# distribution's former name (and an unrelated project on PyPI): either would claim the import name.
$(STAMP): pyproject.toml $(LOCK)
	@if [ $(VARIANT) = gpu ] && [ "$$(uname -sm)" != "Linux x86_64" ]; then \
	  echo "make: GPU=1 (TensorFlow's CUDA build) is for Linux x86_64 only (README, Platforms)" >&2; exit 2; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@unwanted=$$(if [ $(VARIANT) = gpu ]; then echo tensorflow-cpu; \
	  elif [ "$$(uname -sm)" = "Linux x86_64" ]; then echo tensorflow; fi); \
	if [ -n "$$unwanted" ] && $(BIN)/python -m pip show --quiet $$unwanted >/dev/null 2>&1; then \
	  set -x; $(BIN)/python -m pip uninstall --quiet -y tensorflow tensorflow-cpu; fi
	@$(BIN)/python -m pip uninstall --quiet -y labkit 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbook)" >/dev/null
	@rm -f $(VENV)/.installed $(OTHER_STAMP)
	@touch $(STAMP)

# WORKSPACE must lie inside the repository: JupyterLab serves the repository and opens in it.
# nbgrader's formgrader is for a course folder (docs/instructors.md); off here, so that it
# never makes a gradebook in the repository.
lab: setup
	$(BIN)/python -m labkit.workspace sync --out $(WORKSPACE) $(NOTEBOOKS) || \
	  echo "make lab: some copies were not brought up to date (see above); JupyterLab opens anyway" >&2
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" \
	  --ContentsManager.preferred_dir=$(WORKSPACE) \
	  --ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# The tests run the quick profile unless LABKIT_PROFILE says otherwise: the standard
# profile is a learner's session (up to ~10 minutes a notebook), not a test run.
# Four steps: the unit tests (one process, seconds each); the integration tests (slow or
# multi-process: real clusters, kernels, nbgrader, recipe training); the install checks that ask
# the package index whether the lock resolves on every supported platform (README, Install and
# platforms); the notebooks.
UNIT := not slow and not multiprocess and not network
INTEGRATION := (slow or multiprocess) and not network
test: setup
	$(BIN)/python -m pytest -m "$(UNIT)" tests
	$(BIN)/python -m pytest -m "$(INTEGRATION)" tests
	$(BIN)/python -m pytest -m network tests
	LABKIT_PROFILE=$${LABKIT_PROFILE:-quick} $(BIN)/python -m pytest $(NBVAL_FLAGS) $(NOTEBOOKS)

unit: setup
	$(BIN)/python -m pytest -m "$(UNIT)" tests

integration: setup
	$(BIN)/python -m pytest -m "$(INTEGRATION)" tests

platforms: setup
	$(BIN)/python -m pytest -m network tests

notebooks: setup
	LABKIT_PROFILE=$${LABKIT_PROFILE:-quick} $(BIN)/python -m pytest $(NBVAL_FLAGS) $(NOTEBOOKS)

verify: setup
	$(BIN)/python -m labkit.runbook --profile $(PROFILE) --out build/$(PROFILE) $(NOTEBOOKS)

student: setup
	$(BIN)/python -m labkit.student --out student $(NOTEBOOKS)

# The notebooks as a static, searchable HTML site with their stored outputs (Sphinx + MyST-NB,
# nothing is executed: seconds), in build/book/html/; warnings fail it. RESULTS=FILE puts a
# results table (`make verify`'s build/standard/results.md) on its Results page; by default the
# newest committed results.md, if any. tests/test_book.py builds it with the same script.
book: setup
	$(BIN)/python book/build.py --out build/book $(if $(RESULTS),--results $(RESULTS)) $(NOTEBOOKS)

clean:
	rm -rf build student

# ---- instructors: nbgrader (docs/instructors.md) ----------------------------------------
need-lab = @test -n "$(LAB)" -a -f "notebooks/$(LAB).ipynb" || { echo "usage: make $@ LAB=04_mnist \
  (a notebook name from notebooks/, without .ipynb)" >&2; exit 2; }

assignment: setup
	$(need-lab)
	$(BIN)/python -m labkit.workspace course --course $(COURSE) notebooks/$(LAB).ipynb
	cd $(COURSE) && $(NBGRADER) generate_assignment $(LAB)

release: setup
	$(need-lab)
	cd $(COURSE) && $(NBGRADER) release_assignment $(LAB)

collect: setup
	$(need-lab)
	cd $(COURSE) && $(NBGRADER) collect $(LAB)

autograde: setup
	$(need-lab)
	cd $(COURSE) && LABKIT_PROFILE=$(PROFILE) $(NBGRADER) autograde $(LAB)

feedback: setup
	$(need-lab)
	cd $(COURSE) && $(NBGRADER) generate_feedback $(LAB)
