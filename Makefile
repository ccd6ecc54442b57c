# Two commands do everything: `make run` and `make test` (each sets itself up first).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-slow lint docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, the local CPU build; a later plain `torch` requirement would fetch CUDA
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,chgnet,sevennet,dask,postgres,web,docs]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/matloop run examples/emt-alloys.toml

test: $(STAMP)
	$(BIN)/pytest -m "not slow"

test-slow: $(STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# the documentation site (mkdocs.yml, docs/) into site/; warnings are errors
docs: $(STAMP)
	$(BIN)/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) examples/*.db examples/*.db-wal examples/*.db-shm
