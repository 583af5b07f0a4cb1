# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
# `make run` installs what running needs (the package alone); `make test` adds the dev tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench clean

# Bytecode written once here: a mail server's pipe runs `leadbot ingest` as a user who cannot
# write it (or with PYTHONDONTWRITEBYTECODE), and compiling every module costs each run ~0.2 s.
BYTECODE = $(BIN)/python -m compileall -q bot ingest scoring storage

$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/pip
	$(BIN)/pip install --quiet -e .
	$(BYTECODE)
	touch $(RUN_STAMP)

# The dev extra includes everything the package needs, so it satisfies `make run` too.
$(DEV_STAMP): pyproject.toml | $(BIN)/pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BYTECODE)
	touch $(DEV_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BYTECODE)
	$(BIN)/leadbot serve

test: lint
	$(BIN)/pytest

# The house (docs/architecture.md): style, types, and the dependency contracts in pyproject.toml.
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
