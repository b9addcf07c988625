# Set-up, the main job, JupyterLab and the tests. Needs Python 3.11+; the tests also need Node.js (the ASL
# validator) and the browser test Debian's Chromium (.ci/run installs both).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PORT   ?=# the local stack's port when it must be started (default 5055): PORT=5077 make run
LAB_PORT ?= 8888
NBVAL_NOTEBOOKS := $(filter-out notebooks/30_check_day.ipynb,$(wildcard notebooks/[0-9][0-9]_*.ipynb))

# One Python requirement: 3.11 or newer. A .venv made by another Python (an older one, or one that no longer
# runs) is rebuilt instead of reused.
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHON_OK := $(shell $(PYTHON) -c 'import sys; print(int(sys.version_info >= (3, 11)))' 2>/dev/null)
VENV_VERSION := $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV_OK := $(shell $(BIN)/python -c 'import sys; print(int(sys.version_info >= (3, 11)))' 2>/dev/null)
ifneq ($(wildcard $(VENV)),)
ifneq ($(VENV_OK)$(VENV_VERSION),1$(PYTHON_VERSION))
$(info $(VENV) was made by Python $(or $(VENV_VERSION),that no longer runs), not $(PYTHON) $(PYTHON_VERSION): rebuilding it)
$(shell rm -rf $(VENV))
endif
endif

.PHONY: setup bytecode glue-runtime run lab test test-core test-emulator test-notebooks test-browser peer-check lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml emulator/pyproject.toml
	@test "$(PYTHON_OK)" = 1 || { echo "flightpipe needs Python 3.11+; $(PYTHON) is $(or $(PYTHON_VERSION),missing): make PYTHON=python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e "./emulator[dev]" -e ".[dev]"
	touch $(STAMP)

# Bytecode of the project's own modules, imported from the source tree (pip compiled the installed packages). Where
# PYTHONDONTWRITEBYTECODE is set, as on some CI machines, every process would compile them again (0.05-0.15 s for
# each CLI call, stack and kernel; a test run starts hundreds). compileall writes it anyway and skips what is current.
bytecode: setup
	@$(BIN)/python -m compileall -q flightpipe emulator/flightpipe_local glue_job/flightpipe_job bench

# Glue's Python shell 3.9 runtime (the analytics library set's versions) that local job runs use: built once per
# machine from pyenv's Python 3.9 and cached (~/.cache/flightpipe-local), so no test waits on a cold build.
glue-runtime: setup
	$(BIN)/python -m flightpipe_local.glue_runtime --with-pytest

$(NODE_STAMP): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $(NODE_STAMP)

# The main job end-to-end on the local target: start the emulator (PORT=, default 5055), provision, ingest the
# sample days, validate and chart. One line per notebook; prints where the report is. No Node.js needed.
run: setup bytecode
	$(BIN)/python -m flightpipe.demo $(if $(PORT),--port $(PORT))

# JupyterLab on 127.0.0.1 opened on notebooks/, the local stack started first; prints the URL.
lab: setup bytecode
	$(BIN)/python -m flightpipe.lab $(if $(PORT),--port $(PORT)) --lab-port $(LAB_PORT)

# Every test, the notebooks (nbval) included, each part printing its 15 slowest tests. The tests start their own
# local stacks. The core suite runs on TEST_WORKERS pytest-xdist workers, each with its own stack (the tests of
# one tests/e2e/ file stay together: tests/conftest.py). Most of the time is waiting
# on the chain (Step Functions Wait states, job processes), so more workers than cores pay. The three parts run
# side by side, each one's output printed when it ends; the emulator's and the notebooks' (serial: nbval runs
# the notebooks in order on one stack) end well before the core's.
TEST_WORKERS ?= 4
test: setup bytecode glue-runtime $(NODE_STAMP)
	$(MAKE) --no-print-directory -j3 --output-sync=target test-core test-emulator test-notebooks

test-core:
	$(BIN)/python -m pytest tests --ignore=tests/browser -n $(TEST_WORKERS) --dist loadscope --durations=15

test-emulator:
	cd emulator && ../$(BIN)/python -m pytest tests --durations=15

test-notebooks:
	$(BIN)/python -m pytest --nbval $(NBVAL_NOTEBOOKS) --nbval-sanitize-with notebooks/sanitize.cfg --durations=15

# JupyterLab driven by Playwright in Debian's Chromium (/usr/bin/chromium): notebook 10 runs in a real browser.
test-browser: setup
	$(BIN)/python -m pytest tests/browser

# moto's own tests for the services the emulator extends, plain and with the extensions (downloads moto's sdist
# once): every test that passes on plain moto must pass extended, but for the documented as-on-AWS exceptions.
peer-check: setup
	$(BIN)/python -m flightpipe_local.peer_check

lint: setup
	$(BIN)/ruff check .

bench: setup bytecode
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules runs .pytest_cache
