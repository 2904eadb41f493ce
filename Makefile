# Two commands on a fresh clone:
#   make report   create .venv if missing, install, prepare the data, execute the notebooks in order
#   make test     create .venv if missing, run the whole test suite
# Options: DATASET=synthetic (default) | quick | lanl (after `python -m quake_lib ingest train.csv`)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATASET ?= synthetic
PYTEST_ARGS ?=

.PHONY: report test venv data benchmarks clean-data

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

data: venv
	$(PY) -m quake_lib prepare $(DATASET)

report: data

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

benchmarks: venv
	$(PY) benchmarks/ingest_speed.py

clean-data:
	rm -rf data/synthetic data/quick
