# Set-up, the main job and the tests. Only Python 3.10+ (and Node.js for the ASL validator) are needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml emulator/pyproject.toml package.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e "./emulator[dev]" -e ".[dev]"
	npm ci --silent --no-audit --no-fund
	touch $(STAMP)

# The main job end-to-end on the local target: start the emulator, provision, ingest the sample days,
# validate and chart. Prints where the report is.
run: setup
	$(BIN)/python -m flightpipe.demo

# Every test, the notebooks (nbval) included. The tests start their own local stack.
test: setup
	$(BIN)/python -m pytest tests
	cd emulator && ../$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules runs .pytest_cache
