# Entry points: `make run` (bundled sample), `make data` (the real test data, fetched and verified
# into SENSORIUM_DATA) and `make test` (the test suite). Each creates .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run data test install system-deps lint bench clean

install: system-deps $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"sensorium needs Python 3.11, found {sys.version.split()[0]}: set PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip "setuptools<81" wheel
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

run: install
	$(VENV)/bin/sensorium run

lint: install
	VENV=$(VENV) bash scripts/lint-imports.sh

data: install
	$(VENV)/bin/sensorium data fetch

# the data check comes first: without the data the suite would fail test by test, minutes in
test: install
	@$(VENV)/bin/sensorium data check
	VENV=$(VENV) bash scripts/lint-imports.sh
	$(PY) -m pytest -q -ra

bench: install
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) out build *.egg-info
